"""Safety: the consent gate and the hash-chained audit log (moderation lives beside them)."""
