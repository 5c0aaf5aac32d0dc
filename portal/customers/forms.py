import re

from django import forms
from django_countries import countries

from portal.customers.models import Role


class OnboardingForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    billing_email = forms.EmailField(
        label="Billing email", max_length=254, help_text="Invoices and usage reports go here."
    )
    country = forms.ChoiceField(
        label="Country",
        help_text="Where the company is registered; it appears on invoices.",
        error_messages={"invalid_choice": "Choose a country from the list."},
        widget=forms.Select(attrs={"autocomplete": "country"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # ISO 3166-1 countries by name, their alpha-2 codes as values.
        self.fields["country"].choices = [("", "Choose a country"), *countries]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.search(r"\w", name):
            raise forms.ValidationError("Enter your company's name.")
        return name


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
