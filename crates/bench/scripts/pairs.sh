#!/usr/bin/env bash
# usage: pairs.sh N BASE_BIN NEW_BIN: N alternating runs of cpu.sh, base then new. Pauses every
# compiler on the machine (SIGSTOP, SIGCONT at exit) so that builds running beside it do not
# skew one build's runs; anything else running still does.
N=$1; B=$2; W=$3
pkill -STOP -x rustc; pkill -STOP -x cc; pkill -STOP -x ld; pkill -STOP -f "bin/ld"; pkill -STOP -x cargo
trap 'pkill -CONT -x rustc; pkill -CONT -x cc; pkill -CONT -x ld; pkill -CONT -f "bin/ld"; pkill -CONT -x cargo' EXIT
for i in $(seq 1 $N); do "$(dirname "$0")/cpu.sh" $B base; "$(dirname "$0")/cpu.sh" $W new; done
