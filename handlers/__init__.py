"""CSP customer onboarding: a CRM's customer request becomes a Partner Center customer and a CloudEvent."""
