//! Runnable examples of Penny used as a library; see `README.md` beside this file.
//! This package has no library code of its own: the examples are its content.
