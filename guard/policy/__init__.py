"""The policy: protected names, package families, conda names, config, rules -> Verdict. No I/O but reading config."""
