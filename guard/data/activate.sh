# conda-pip-guard: while this environment is active, its pip shims come first on PATH
# (written by `guard shims install`, removed by `guard shims uninstall`; sourced by conda).
# PATH is rebuilt with sh builtins only: this directory is taken out wherever it is (conda's
# reactivate re-exports a PATH that still has it) and, unless this env is stacked on another,
# so are other envs' guard shims (conda has just deactivated their env), then put first.
cpg_shims=@SHIMS_DIR@
cpg_stacked=
eval "cpg_stacked=\${CONDA_STACKED_${CONDA_SHLVL:-0}:-}" 2>/dev/null || cpg_stacked=
cpg_new=
cpg_first=1
cpg_rest=${PATH:-}:
[ -n "${PATH:-}" ] || cpg_rest=
while [ -n "$cpg_rest" ]; do
    cpg_dir=${cpg_rest%%:*}
    cpg_rest=${cpg_rest#*:}
    [ "$cpg_dir" = "$cpg_shims" ] && continue
    case $cpg_dir in
        */etc/conda-pip-guard/shims) [ -z "$cpg_stacked" ] && continue ;;
    esac
    if [ -n "$cpg_first" ]; then
        cpg_new=$cpg_dir
        cpg_first=
    else
        cpg_new=$cpg_new:$cpg_dir
    fi
done
if [ -n "$cpg_first" ]; then
    PATH=$cpg_shims
else
    PATH=$cpg_shims:$cpg_new
fi
export PATH
unset cpg_shims cpg_stacked cpg_new cpg_first cpg_rest cpg_dir
