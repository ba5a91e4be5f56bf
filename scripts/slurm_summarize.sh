#!/usr/bin/env bash
# Summarize a folder of articles on a Slurm cluster: one array task per
# shard, all writing to one shared output folder, then one job to merge the
# shard manifests. Array index K runs shard K of N (indices start at 0).
#
#   sbatch --array=0-7 scripts/slurm_summarize.sh /shared/news /shared/summaries
#   sbatch --dependency=afterany:<array job id> --wrap \
#     'tarjoman manifest merge /shared/summaries/manifest.shard-*-of-8.jsonl -o /shared/summaries/manifest.jsonl'
#
# N is the array's highest index + 1; to redo one shard on its own, give N
# as the third argument: `sbatch --array=5 slurm_summarize.sh IN OUT 8`.
# Shards are a stable hash of each file's path, so a task that is requeued
# (or re-submitted after a node failure) redoes only its own unfinished
# inputs. Each task's workers share its CPUs: --jobs x threads = cpus.
#
# Environment (sbatch passes the submitter's on): TARJOMAN_HOME, the model
# store (default /shared/tarjoman-models); TARJOMAN_BIN, the binary
# (default: `tarjoman` on PATH). The #SBATCH lines below are defaults: any
# of them can be overridden on the sbatch command line.
#SBATCH --job-name=tarjoman-summarize
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=tarjoman-%A_%a.log
set -euo pipefail

usage="usage: sbatch --array=0-<N-1> slurm_summarize.sh IN_DIR OUT_DIR [N]"
IN=${1:?$usage}
OUT=${2:?$usage}
K=${SLURM_ARRAY_TASK_ID:?run as a job array: $usage}
if [ -n "${3:-}" ]; then
  N=$3
elif [ "${SLURM_ARRAY_TASK_MIN:-0}" -ne 0 ]; then
  echo "the array starts at ${SLURM_ARRAY_TASK_MIN}, not 0: give N as the third argument" >&2
  exit 2
else
  N=$((SLURM_ARRAY_TASK_MAX + 1))
fi
if [ "$K" -ge "$N" ]; then
  echo "array index $K is not a shard of $N (indices run 0 to $((N - 1)))" >&2
  exit 2
fi

# Models are fetched once into a shared store rather than per node.
export TARJOMAN_HOME=${TARJOMAN_HOME:-/shared/tarjoman-models}
BIN=${TARJOMAN_BIN:-tarjoman}
JOBS=$((${SLURM_CPUS_PER_TASK:-2} / 2))
[ "$JOBS" -ge 1 ] || JOBS=1

# Exit status 1 means some inputs failed (recorded in the manifest); the
# shard itself finished, so do not let Slurm requeue it for that.
"$BIN" summarize "$IN" -o "$OUT" \
  --method extractive \
  --jobs "$JOBS" \
  --shard "$K/$N" || { rc=$?; [ "$rc" -eq 1 ] || exit "$rc"; }
