//! `task.h`: the task-group handle and work function types that `event.h`
//! refers to (`xTaskGroup`, `xTaskFunc`). Only the types are provided; they
//! are written in `cbindgen/xbase/task.toml`.
