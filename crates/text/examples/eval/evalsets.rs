//! Evaluation sections for duplicates, hotspots and replies.
use anyhow::Result;

use crate::Parts;

pub fn eval_dedup(_p: &mut Parts<'_>) -> Result<()> {
    Ok(())
}
pub fn eval_hotspots(_p: &mut Parts<'_>) -> Result<()> {
    Ok(())
}
pub fn eval_replies(_p: &mut Parts<'_>) -> Result<()> {
    Ok(())
}
