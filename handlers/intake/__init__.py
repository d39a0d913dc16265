"""Intake: the HTTP routes' work (enqueue once, status, validate) and the CRM routes (Dataverse, Salesforce)."""
