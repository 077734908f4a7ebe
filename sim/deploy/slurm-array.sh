#!/usr/bin/env bash
# A general search of 1,000,000 cases on the fixed-b8 preset as a Slurm job
# array: 16 tasks, task I runs `--shard I/16` on all cores of its node and
# writes its result; a dependent job merges them.
#
#   sbatch sim/deploy/slurm-array.sh
#   sbatch --dependency=afterany:JOBID --wrap 'bmcwd scenario merge results/shard-*.json > merged.json'
#
#SBATCH --job-name=bmcwd-search
#SBATCH --array=0-15
#SBATCH --cpus-per-task=2
#SBATCH --output=results/slurm-%A_%a.out
set -u
mkdir -p results
bmcwd scenario explore --kernel fixed-b8 --cases 1000000 --seed 1 --keep-going \
    --threads "${SLURM_CPUS_PER_TASK:-0}" \
    --shard "${SLURM_ARRAY_TASK_ID}/16" --results "results/shard-${SLURM_ARRAY_TASK_ID}.json"
rc=$?
# 6 means "counterexample found": the result file is still complete.
[ "$rc" = 0 ] || [ "$rc" = 6 ]
