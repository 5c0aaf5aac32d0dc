"""Cross-cutting request hardening: input that no view should see, CSP, staff sessions."""
