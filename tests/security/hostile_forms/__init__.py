"""Forms for the hostile-input properties, one module per feature, each with `FORMS`.

tests/security/test_hostile_forms.py runs both properties over every form listed here; see
tests/security/hostile.py for what a HostileForm holds and what the properties assert.
"""
