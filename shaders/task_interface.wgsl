// The task interface, shared by every task (src/gpu/tasks.rs documents it): the host
// composes this file, after the generated task header (TASK_RESET_LEN), before each
// task source. A task file declares the TASK_* constants, task_reset, task_observe
// and task_step, plus private helpers prefixed with the task's name.

// s = the simulator state in the CPU task's order; steps = the TimeLimit counter;
// flags = task bits (CartPole: bit 0 = a terminal step already happened).
struct TaskState {
    s: array<f32, TASK_STATE_DIM>,
    steps: u32,
    flags: u32,
}

struct TaskStep {
    reward: f32,
    terminated: bool,
    truncated: bool,
}

const_assert TASK_RESET_UNIFORMS <= TASK_RESET_LEN;
