"""The xAPI 1.0.3 Learning Record Store: statements and documents (docs/api/xapi.md).

- errors: the errors the resources answer with, the version header
- validation: Data 2.2-4.0 rules for statements, agents and activities
- identity: statement keys per workspace, an agent's inverse functional identifier
- comparison: when a re-sent statement is the same as the stored one
- statements: storing a batch (all or nothing, retried once after a concurrent write)
- voiding: a voided statement's events and problem facts removed, its video session recomputed
- mapping/: statements onto the learning record (reading, learning: events, enrollments and
  attempts; video: viewing sessions; problems: problem responses and subsection opens)
"""
