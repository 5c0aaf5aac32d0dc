from django import forms

from portal.webhooks.models import EventType


class SubscriptionForm(forms.Form):
    url = forms.CharField(max_length=500, label="URL", help_text="An https endpoint you run.")
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, label="Events"
    )
    description = forms.CharField(max_length=200, required=False)
