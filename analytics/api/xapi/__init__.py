"""The xAPI 1.0.3 LRS under /xapi/ (docs/api/xapi.md): one module per resource, base.py for what they share."""
