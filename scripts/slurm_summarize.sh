#!/usr/bin/env bash
# Summarize a folder of articles on a Slurm cluster: one array task per
# shard, all writing to one shared output folder, then one job to merge the
# shard manifests.
#
#   sbatch --array=0-7 scripts/slurm_summarize.sh /shared/news /shared/summaries
#   sbatch --dependency=afterany:<array job id> --wrap \
#     'tarjoman manifest merge /shared/summaries/manifest.shard-*-of-8.jsonl -o /shared/summaries/manifest.jsonl'
#
# Shards are a stable hash of each file's path, so a task that is requeued
# (or re-submitted after a node failure) redoes only its own unfinished
# inputs. Each task's workers share its CPUs: --jobs x threads = cpus.
#SBATCH --job-name=tarjoman-summarize
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=tarjoman-%A_%a.log
set -euo pipefail

IN=${1:?usage: sbatch --array=0-N-1 slurm_summarize.sh IN_DIR OUT_DIR}
OUT=${2:?usage: sbatch --array=0-N-1 slurm_summarize.sh IN_DIR OUT_DIR}
N=${SLURM_ARRAY_TASK_COUNT:?run as a job array: sbatch --array=0-7 ...}
K=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))

# Models are fetched once into a shared store rather than per node.
export TARJOMAN_HOME=${TARJOMAN_HOME:-/shared/tarjoman-models}

# Exit status 1 means some inputs failed (recorded in the manifest); the
# shard itself finished, so do not let Slurm requeue it for that.
tarjoman summarize "$IN" -o "$OUT" \
  --method extractive \
  --jobs "$(( ${SLURM_CPUS_PER_TASK:-2} / 2 ))" \
  --shard "$K/$N" || { rc=$?; [ "$rc" -eq 1 ] || exit "$rc"; }
