from django import forms


class CardSavedForm(forms.Form):
    setup_intent = forms.CharField(max_length=100)


class ManualPaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=16, decimal_places=3, min_value=0)
    reference = forms.CharField(max_length=200, help_text="The bank transfer's reference.")


class TermsForm(forms.Form):
    invoice_terms = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=1000)
