//! An error as every shell shows it: the CLI's headline, `Caused by:` chain and
//! hints, and the request field at fault. The CLI prints [`Diagnostic::render`];
//! the web API and the Python package hand the parts on.

use super::{field_name, Error, RequestError};
use crate::diagnostics::{self, Diagnostic};

impl Error {
    /// The error taken apart as the CLI prints it.
    ///
    /// ```
    /// let request: sizeup::api::KvRequest =
    ///     serde_json::from_value(serde_json::json!({"model": "llama-3.1-8bb"}))?;
    /// let err = sizeup::api::kv(&request).unwrap_err();
    /// assert!(err.diagnose().render().starts_with("error: "));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn diagnose(&self) -> Diagnostic {
        diagnostics::diagnose(self)
    }

    /// The request field at fault (`tp` for `--tp`), when the error names one flag.
    pub fn field(&self) -> Option<String> {
        // `--prompt + --output` names two flags: no one field is at fault
        diagnostics::flag_at_fault(self)
            .filter(|f| !f.contains(' '))
            .map(field_name)
    }
}

impl RequestError {
    /// The refusal in the shape of a command's error: the headline and the
    /// hints, no causes.
    pub fn diagnose(&self) -> Diagnostic {
        Diagnostic {
            error: self.error.clone(),
            causes: Vec::new(),
            hints: self.hints.clone(),
        }
    }
}
