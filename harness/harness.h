/* harness.h — what the harness/ module offers: turning shapes into measured, trustworthy result records.
 *
 *   - statistics on timing samples (median with a confidence interval, two-pass stddev, CV, Mann-Whitney U);
 *   - hardware and software counters through libpfm4 / perf_event_open (null with a reason when absent);
 *   - system description and measured machine peaks (sgemm, FMA loop, stream copy), cached per machine;
 *   - measurement of a shape in a mode (encode, forward, generate), extrapolation for shapes too big or slow;
 *   - result records (cJSON), crash-safe append, resume, shards, merge, compare, sweep presets.
 *
 * Depends on engine/ and variants/.
 */
#ifndef SHAPEBENCH_HARNESS_H
#define SHAPEBENCH_HARNESS_H

#include "engine/engine.h"

/* ---- statistics, counters, system, peaks (measurement infrastructure) ---------------------------- */

/* ---- measurement, records, results files, sweep -------------------------------------------------- */

#endif
