/* engine.h — what the engine/ module offers: running any shape variants/ can name, forward, generating and
 * training. Five libraries, each with its own header, from the bottom up:
 *
 *   - exec/     the execution context (backend, threads, FLOP tally, profile, oneDNN's state) and the GEMM
 *               wrapper every product goes through;
 *   - weights/  every parameter in one arena with a table of Hugging Face names, fp32 or bf16 storage, T5's
 *               init, checkpoint I/O, pre-packing for oneDNN;
 *   - kernels/  the arithmetic on flat arrays both the runtime and the trainer use (softmax, norms,
 *               position bias, routing, the training kernels and their backwards);
 *   - runtime/  inference: encoder, teacher-forced decoder, greedy generation with a KV cache;
 *   - train/    a training step's forward, losses and gradients, and the optimizers.
 *
 * Depends on variants/ and common/. Computation is fp32 throughout.
 */
#ifndef SHAPEBENCH_ENGINE_H
#define SHAPEBENCH_ENGINE_H

#include "engine/runtime/runtime.h"
#include "engine/train/train.h"

#endif
