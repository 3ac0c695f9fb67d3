# conda-pip-guard: while this environment is active, its pip shims come first on PATH
# (written by `guard shims install`, removed by `guard shims uninstall`; sourced by conda).
set -l cpg_shims @SHIMS_DIR@
set -l cpg_new
for cpg_dir in $PATH
    if test "$cpg_dir" != "$cpg_shims"
        set -a cpg_new $cpg_dir
    end
end
set -gx PATH $cpg_shims $cpg_new
