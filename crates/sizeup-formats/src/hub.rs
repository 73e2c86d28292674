//! Hugging Face Hub access (in progress).
