//! The operator's access path: `ssh none;` or `ssh PORT [from ADDR] [in IFACE];`.

use super::statement::Statement;
use crate::model::Access;
use std::borrow::Cow;

impl Statement<'_, '_> {
    /// `ssh none;` or `ssh PORT [from ADDR] [in IFACE];`
    pub(super) fn access(&mut self) -> Option<Access> {
        let Some(token) = self.peek() else {
            self.error_at(
                self.pos - 1,
                "`ssh` needs a port, or `none` on a console-only host".into(),
            )
            .help("write `ssh 22;`, `ssh 2222 from 10.0.0.0/8;` or `ssh none;`");
            return None;
        };
        if token.is_ident("none") {
            self.pos += 1;
            self.no_more("`ssh none`")?;
            return Some(Access::Console);
        }
        let port = self.port()?;
        let (mut from, mut iface) = (None, None);
        while let Some(token) = self.peek() {
            if token.is_ident("from") && from.is_none() {
                self.pos += 1;
                from = Some(self.address()?);
            } else if token.is_ident("in") && iface.is_none() {
                self.pos += 1;
                iface = Some(Cow::Owned(self.iface()?));
            } else {
                self.error_at(
                    self.pos,
                    format!(
                        "expected `from` or `in` after `ssh {port}`, found `{}`",
                        token.text()
                    ),
                );
                return None;
            }
        }
        Some(Access::Ssh { port, from, iface })
    }
}
