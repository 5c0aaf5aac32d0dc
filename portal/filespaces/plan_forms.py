"""The plan change form: one of the plans that fit the filespace, nothing else."""

from django import forms


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=None,
        widget=forms.RadioSelect,
        empty_label=None,
        label="New plan",
        error_messages={
            "required": "Choose the plan to move to.",
            "invalid_choice": "Choose one of the plans listed: that one does not fit.",
        },
    )

    def __init__(self, *args, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = plans
