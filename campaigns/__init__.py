"""Campaign lists, templates, channels, the sending runner and its ledger (issue: campaigns)."""
