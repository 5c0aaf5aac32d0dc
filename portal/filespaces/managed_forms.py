"""Forms for managed filespace operations; the name rules live in provisioning.managed."""

from django import forms

from provisioning.managed import services as managed
from provisioning.rules import BLOCK_SIZES_KIB, DEFAULT_BLOCK_SIZE_KIB


class UserCreateForm(forms.Form):
    name = forms.CharField(
        max_length=128,
        help_text="Letters, digits, '-', '_', '.' and '@'; not case-sensitive.",
    )
    # As long as the record holds: a longer one would fail to save after the CLI made the user.
    email = forms.EmailField(max_length=254, required=False, help_text="Optional.")

    def clean_name(self) -> str:
        return managed.validate_user_name(self.cleaned_data["name"])


class SnapshotCreateForm(forms.Form):
    name = forms.CharField(
        max_length=128,
        required=False,
        help_text="Optional. Letters, digits, spaces, '-', '_', '(' and ')'.",
    )

    def clean_name(self) -> str:
        return managed.validate_snapshot_name(self.cleaned_data["name"])


class SnapshotDeleteForm(forms.Form):
    snapshot_id = forms.IntegerField(min_value=1, max_value=2**31 - 1)


class ScheduleCreateForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="Up to 40 letters, digits, spaces, - _ ( ).")
    interval = forms.CharField(
        max_length=8, help_text="How often: a number and m, h, d, w, mo or y (6h, 1d, 1w)."
    )
    retention = forms.IntegerField(
        min_value=1, max_value=managed.MAX_RETENTION, help_text="How many snapshots to keep."
    )

    def clean_name(self) -> str:
        return managed.validate_schedule_name(self.cleaned_data["name"])

    def clean_interval(self) -> str:
        return managed.validate_interval(self.cleaned_data["interval"])


class BlockSizeForm(forms.Form):
    """The block size for `lucid init-s3`; fixed for the filespace's life once initialized."""

    block_size = forms.TypedChoiceField(
        label="Block size",
        choices=[
            (size, f"{size} KiB" + (" (default)" if size == DEFAULT_BLOCK_SIZE_KIB else ""))
            for size in BLOCK_SIZES_KIB
        ],
        coerce=int,
        # A form posted without the field (an older page) gets LucidLink's default.
        required=False,
        empty_value=DEFAULT_BLOCK_SIZE_KIB,
        initial=DEFAULT_BLOCK_SIZE_KIB,
        error_messages={
            "invalid_choice": "Choose a block size of "
            + ", ".join(map(str, BLOCK_SIZES_KIB))
            + " KiB."
        },
    )
