from decimal import Decimal

from django import forms


class AdjustmentForm(forms.Form):
    description = forms.CharField(max_length=300)
    amount = forms.DecimalField(
        max_digits=14, decimal_places=3, help_text="Negative for a discount, e.g. -10.00."
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class CreditForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0.001"))
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
