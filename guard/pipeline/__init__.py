"""The stages wired together: argv -> request -> snapshot -> resolution -> plan -> verdict; the verdict cache; pip's own dry run as the exact fallback."""
