# Export jobs arrive with the exports issue.
