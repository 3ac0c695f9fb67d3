#!/bin/sh
# conda-pip-guard shim for @NAME@ (written by `guard shims install`, removed by `guard shims uninstall`).
#
# `@NAME@ install` and `@NAME@ uninstall` go to `guard pip`, which simulates them first; every other
# subcommand execs the real @NAME@ at once, with no Python start here. The real @NAME@ is the next one
# on PATH that is not in a guard shims directory (one holding .conda-pip-guard-shims), so PATH
# holding this directory twice, or another env's shims, cannot make it call itself.
# Only sh builtins: no fork before the exec. Arguments travel as "$@", untouched.
cpg_prefix=@PREFIX@
cpg_recorded=@GUARD_EXE@
cpg_guard=${GUARD_EXE:-$cpg_recorded}
cpg_name=${0##*/}

cpg_real=
cpg_rest=$PATH:
while [ -n "$cpg_rest" ]; do
    cpg_dir=${cpg_rest%%:*}
    cpg_rest=${cpg_rest#*:}
    [ -n "$cpg_dir" ] || cpg_dir=.
    [ -f "$cpg_dir/.conda-pip-guard-shims" ] && continue
    if [ -f "$cpg_dir/$cpg_name" ] && [ -x "$cpg_dir/$cpg_name" ]; then
        cpg_real=$cpg_dir/$cpg_name
        break
    fi
done
if [ -z "$cpg_real" ]; then
    echo "conda-pip-guard: $cpg_name: no real $cpg_name on PATH after the guard's shims" >&2
    exit 127
fi

# pip's subcommand: the first word after pip's general options (guard/pip_hook.py has the same
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
    *) [ -n "$cpg_unsure" ] || exec "$cpg_real" "$@" ;;
esac

GUARD_REAL_PIP=$cpg_real
export GUARD_REAL_PIP
if [ "$cpg_real" = "$cpg_prefix/bin/$cpg_name" ]; then
    GUARD_PREFIX=$cpg_prefix
    export GUARD_PREFIX
else
    unset GUARD_PREFIX  # the guard takes the environment of the pip it runs
fi
[ -x "$cpg_guard" ] || cpg_guard=$(command -v guard) || cpg_guard=
if [ -z "$cpg_guard" ]; then
    case ${GUARD_DISABLE:-} in
        1|[Tt][Rr][Uu][Ee]|[Yy][Ee][Ss]|[Oo][Nn])
            echo "conda-pip-guard: warning: the guard is not installed; GUARD_DISABLE=1: $cpg_name runs unguarded" >&2
            exec "$cpg_real" "$@" ;;
    esac
    echo "conda-pip-guard: cannot find the guard (${GUARD_EXE:-$cpg_recorded}, nor guard on PATH): $cpg_name did not run." >&2
    echo "  GUARD_DISABLE=1 $cpg_name ... runs it unguarded." >&2
    printf '%s\n' @REMOVAL_ADVICE@ >&2
    exit 3
fi
exec "$cpg_guard" pip "$@"
