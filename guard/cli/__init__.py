"""The click commands: thin faces over the stages."""
