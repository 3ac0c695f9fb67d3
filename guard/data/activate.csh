# conda-pip-guard: while this environment is active, its pip shims come first on PATH
# (written by `guard shims install`, removed by `guard shims uninstall`; sourced by conda).
set cpg_shims=@SHIMS_DIR@
set cpg_new=()
foreach cpg_dir ($path:q)
    if ("$cpg_dir" != "$cpg_shims") set cpg_new=($cpg_new:q "$cpg_dir")
end
set path=("$cpg_shims" $cpg_new:q)
unset cpg_shims cpg_new cpg_dir
