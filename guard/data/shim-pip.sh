#!/bin/sh
# conda-pip-guard shim for @NAME@ (written by `guard shims install`, removed by `guard shims uninstall`).
#
# `@NAME@ install` and `@NAME@ uninstall` go to `guard pip`, which simulates them first; every other
# subcommand execs the environment's own @NAME@ at once, with no Python start here. The pip that runs
# is always this environment's (bin/@NAME@, else bin/python -m pip), never the next one on PATH: a
# ~/.local/bin/pip or /usr/bin/pip would change another environment than the one the guard judges.
# No pip in the environment: one line, exit 127. Only sh builtins: no fork before the exec.
# Arguments travel as "$@", untouched.
cpg_prefix=@PREFIX@
cpg_recorded=@GUARD_EXE@
cpg_guard=${GUARD_EXE:-$cpg_recorded}
cpg_name=${0##*/}

cpg_real=
cpg_python=
if [ -f "$cpg_prefix/bin/$cpg_name" ] && [ -x "$cpg_prefix/bin/$cpg_name" ]; then
    cpg_real=$cpg_prefix/bin/$cpg_name
elif [ -x "$cpg_prefix/bin/python" ]; then
    for cpg_dir in "$cpg_prefix"/lib/python*/site-packages/pip; do
        [ -f "$cpg_dir/__main__.py" ] && cpg_python=$cpg_prefix/bin/python && break
    done
fi
if [ -z "$cpg_real" ] && [ -z "$cpg_python" ]; then
    echo "conda-pip-guard: $cpg_name: the environment $cpg_prefix has no pip (no bin/$cpg_name, no pip module for its python); no other pip runs in its place" >&2
    exit 127
fi

# pip's subcommand: the first word after pip's general options (guard/integrate/pip_hook.py has the same
# tables); anything pip may read differently (an abbreviated or unknown option) goes to the guard.
cpg_command=
cpg_unsure=
cpg_skip=
for cpg_arg in "$@"; do
    if [ "$cpg_arg" = --guard-disable ]; then
        cpg_unsure=1
        break
    fi
    [ -n "$cpg_command" ] && continue
    if [ -n "$cpg_skip" ]; then
        cpg_skip=
        continue
    fi
    case $cpg_arg in
        @VALUE_OPTIONS@) cpg_skip=1 ;;
        @FLAG_OPTIONS@) ;;
        --*=*)
            case ${cpg_arg%%=*} in
                @VALUE_OPTIONS@) ;;
                *) cpg_unsure=1 ;;
            esac ;;
        -|-*[!@SHORT_FLAGS@]*) cpg_unsure=1 ;;
        -*) ;;
        *) cpg_command=$cpg_arg ;;
    esac
done

case $cpg_command in
    install|uninstall) ;;
    *) if [ -z "$cpg_unsure" ]; then
           [ -n "$cpg_real" ] && exec "$cpg_real" "$@"
           exec "$cpg_python" -m pip "$@"
       fi ;;
esac

GUARD_PREFIX=$cpg_prefix
export GUARD_PREFIX
if [ -n "$cpg_real" ]; then
    GUARD_REAL_PIP=$cpg_real
    export GUARD_REAL_PIP
else
    unset GUARD_REAL_PIP  # the guard runs the env's python -m pip
fi
[ -x "$cpg_guard" ] || cpg_guard=$(command -v guard) || cpg_guard=
if [ -z "$cpg_guard" ]; then
    case ${GUARD_DISABLE:-} in
        1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Oo][Nn])
            echo "conda-pip-guard: warning: the guard is not installed; GUARD_DISABLE=1: $cpg_name runs unguarded" >&2
            [ -n "$cpg_real" ] && exec "$cpg_real" "$@"
            exec "$cpg_python" -m pip "$@" ;;
    esac
    echo "conda-pip-guard: cannot find the guard (${GUARD_EXE:-$cpg_recorded}, nor guard on PATH): $cpg_name did not run." >&2
    echo "  GUARD_DISABLE=1 $cpg_name ... runs it unguarded." >&2
    printf '%s\n' @REMOVAL_ADVICE@ >&2
    exit 3
fi
exec "$cpg_guard" pip "$@"
