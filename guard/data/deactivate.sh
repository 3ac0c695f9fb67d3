# conda-pip-guard: takes this environment's pip shims off PATH again, exactly
# (written by `guard shims install`, removed by `guard shims uninstall`; sourced by conda).
cpg_shims=@SHIMS_DIR@
cpg_new=
cpg_first=1
cpg_rest=${PATH:-}:
[ -n "${PATH:-}" ] || cpg_rest=
while [ -n "$cpg_rest" ]; do
    cpg_dir=${cpg_rest%%:*}
    cpg_rest=${cpg_rest#*:}
    [ "$cpg_dir" = "$cpg_shims" ] && continue
    if [ -n "$cpg_first" ]; then
        cpg_new=$cpg_dir
        cpg_first=
    else
        cpg_new=$cpg_new:$cpg_dir
    fi
done
PATH=$cpg_new
export PATH
unset cpg_shims cpg_new cpg_first cpg_rest cpg_dir
