#!/bin/sh
# conda-pip-guard shim for uv (written by `guard shims install`, removed by `guard shims uninstall`).
#
# `uv pip install`, `uv pip sync` and `uv pip uninstall` go to `guard uv`, which judges them (and
# itself passes through a command aimed at another environment: --python, --system, an active
# virtualenv); every other uv command (`uv --version`, `uv run`, `uv add`, `uv venv`, `uv pip list`,
# `uv tool ...`) execs the real uv at once, with no Python start here. The real uv is the first `uv`
# on PATH outside a guard shims directory (any env's: marked by .conda-pip-guard-shims), else
# the env's bin/uv; none: one line, exit 127. Only sh builtins: no fork before the exec.
# Arguments travel as "$@", untouched.
cpg_prefix=@PREFIX@
cpg_recorded=@GUARD_EXE@
cpg_guard=${GUARD_EXE:-$cpg_recorded}
cpg_shims=@SHIMS_DIR@

cpg_real=
cpg_rest=${PATH:-}:
[ -n "${PATH:-}" ] || cpg_rest=
while [ -n "$cpg_rest" ]; do
    cpg_dir=${cpg_rest%%:*}
    cpg_rest=${cpg_rest#*:}
    [ -n "$cpg_dir" ] || cpg_dir=.
    case $cpg_dir in
        "$cpg_shims"|"$cpg_shims/") continue ;;  # this one even with its marker gone: no exec loop
    esac
    [ -f "$cpg_dir/.conda-pip-guard-shims" ] && continue
    if [ -f "$cpg_dir/uv" ] && [ -x "$cpg_dir/uv" ]; then
        cpg_real=$cpg_dir/uv
        break
    fi
done
if [ -z "$cpg_real" ] && [ -f "$cpg_prefix/bin/uv" ] && [ -x "$cpg_prefix/bin/uv" ]; then
    cpg_real=$cpg_prefix/bin/uv
fi
if [ -z "$cpg_real" ]; then
    echo "conda-pip-guard: uv: no uv on PATH outside the guard's shims, nor $cpg_prefix/bin/uv" >&2
    exit 127
fi

# uv's command (the first word after its global options), then, after `pip`, the pip command (uv's
# global options may come there too). An option this table does not know (an abbreviation, `--x=y`
# of a flag, a short cluster other than -q/-v/-n, `--`) leaves the shim unsure: the guard decides.
cpg_command=
cpg_pip=
cpg_unsure=
cpg_skip=
for cpg_arg in "$@"; do
    if [ "$cpg_arg" = --guard-disable ]; then
        cpg_unsure=1
        break
    fi
    [ -n "$cpg_pip" ] && continue
    if [ -n "$cpg_skip" ]; then
        cpg_skip=
        continue
    fi
    case $cpg_arg in
        @VALUE_OPTIONS@) cpg_skip=1 ;;
        --cert) if [ "$cpg_command" = pip ]; then cpg_skip=1; else cpg_unsure=1; fi ;;
        @FLAG_OPTIONS@) ;;
        --*=*)
            case ${cpg_arg%%=*} in
                @VALUE_OPTIONS@) ;;
                --cert) [ "$cpg_command" = pip ] || cpg_unsure=1 ;;
                *) cpg_unsure=1 ;;
            esac ;;
        -|--|-*[!qvnhV]*) cpg_unsure=1 ;;
        -*) ;;
        *)
            if [ -z "$cpg_command" ]; then
                cpg_command=$cpg_arg
                [ "$cpg_command" = pip ] || break
            else
                cpg_pip=$cpg_arg
            fi ;;
    esac
    [ -n "$cpg_unsure" ] && break
done

if [ -z "$cpg_unsure" ]; then
    case $cpg_command:$cpg_pip in
        pip:install|pip:sync|pip:uninstall) ;;
        *) exec "$cpg_real" "$@" ;;
    esac
fi

GUARD_PREFIX=$cpg_prefix
GUARD_REAL_UV=$cpg_real
export GUARD_PREFIX GUARD_REAL_UV
[ -x "$cpg_guard" ] || cpg_guard=$(command -v guard) || cpg_guard=
if [ -z "$cpg_guard" ]; then
    case ${GUARD_DISABLE:-} in
        1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Oo][Nn])
            echo "conda-pip-guard: warning: the guard is not installed; GUARD_DISABLE=1: uv runs unguarded" >&2
            exec "$cpg_real" "$@" ;;
    esac
    echo "conda-pip-guard: cannot find the guard (${GUARD_EXE:-$cpg_recorded}, nor guard on PATH): uv did not run." >&2
    echo "  GUARD_DISABLE=1 uv ... runs it unguarded." >&2
    printf '%s\n' @REMOVAL_ADVICE@ >&2
    exit 3
fi
exec "$cpg_guard" uv "$@"
