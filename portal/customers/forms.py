import re

from django import forms

from portal.customers.models import Role


class OnboardingForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    billing_email = forms.EmailField(
        label="Billing email", max_length=254, help_text="Invoices and usage reports go here."
    )
    country = forms.CharField(
        label="Country",
        max_length=2,
        min_length=2,
        help_text="Two-letter ISO code, for example GB, US or DE.",
        widget=forms.TextInput(attrs={"autocomplete": "country", "size": 3}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.search(r"\w", name):
            raise forms.ValidationError("Enter your company's name.")
        return name

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise forms.ValidationError("Enter a two-letter country code, for example GB.")
        return country


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, acting_role: str = Role.MEMBER, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if acting_role != Role.OWNER:
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class SwitchCustomerForm(forms.Form):
    customer = forms.IntegerField(min_value=1, max_value=2**63 - 1)
