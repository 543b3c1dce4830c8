//! Reply quality (答复质量) check for a draft 信访处理意见书 or a published reply, before it is
//! sent: the parts the law asks for (诉求, 经查 facts, 理由, 依据《…》, the decision 支持 / 解释说明
//! / 不予支持, and the right to ask for 复查 within 30 days), stock perfunctory phrases (敷衍), a
//! reply that does not address what was asked (答非所问), and vague time limits.
//!
//! The score starts at 100 and each finding subtracts its penalty. Penalties are weighted so
//! that what hurts a petitioner most (no facts, no decision, off-topic, perfunctory) costs most;
//! the formal parts that message-board replies usually lack (legal basis, review right) cost less.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::normalize::normalize;
use crate::segment::Segmenter;

/// One problem found in a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable machine code, e.g. `missing_facts`.
    pub code: String,
    /// Message for the handler (Chinese).
    pub message: String,
    /// Points subtracted from 100.
    pub penalty: u8,
    /// The text that triggered the finding, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The result of a reply check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyCheck {
    /// 0–100, higher is better.
    pub score: u8,
    /// What is wrong, worst first.
    pub findings: Vec<Finding>,
    /// Share of the message's key terms that the reply mentions (0–1).
    pub topic_overlap: f32,
}

const REQUEST_CUES: &[&str] = &[
    "反映",
    "诉求",
    "来信",
    "留言",
    "您提出",
    "您所",
    "您咨询",
    "咨询",
    "投诉",
    "举报",
    "建议",
    "问题",
];
const FACT_CUES: &[&str] = &[
    "经查",
    "经调查",
    "经核实",
    "经核查",
    "调查了解",
    "经了解",
    "核查",
    "现场查看",
    "实地",
    "走访",
    "调查核实",
    "经研究",
    "经现场",
    "查明",
    "核实",
];
const REASON_CUES: &[&str] = &[
    "因为",
    "由于",
    "原因",
    "鉴于",
    "因此",
    "所以",
    "根据",
    "按照",
    "依据",
    "属于",
    "不属于",
    "符合",
    "规定",
];
const DECISION_CUES: &[&str] = &[
    "支持",
    "不予支持",
    "解释说明",
    "予以",
    "同意",
    "已责令",
    "已安排",
    "已完成",
    "已处理",
    "已整改",
    "已督促",
    "决定",
    "将于",
    "已要求",
    "已协调",
    "已解决",
    "已拆除",
    "已清理",
    "已落实",
    "已发放",
    "已办理",
    "不予",
    "可以",
    "请您",
    "建议您",
    "办理",
];
const REVIEW_CUES: &[&str] = &[
    "复查",
    "复核",
    "三十日内",
    "30日内",
    "30天内",
    "行政复议",
    "提起诉讼",
    "申请复议",
];
const PERFUNCTORY: &[&str] = &[
    "不符合相关政策",
    "不符合政策",
    "要等一段时间",
    "慢慢调查",
    "已转相关部门",
    "已转交相关部门",
    "转交相关部门",
    "请耐心等待",
    "正在研究",
    "研究解决",
    "按相关规定办理",
    "由相关部门",
    "相关部门正在",
    "已转有关部门",
    "已转交有关部门",
    "将进一步研究",
];
const VAGUE_TIME: &[&str] = &[
    "近期",
    "尽快",
    "择机",
    "适时",
    "抓紧",
    "早日",
    "不久",
    "下一步",
    "尽早",
    "待条件成熟",
    "逐步",
];

fn find_any<'a>(text: &str, cues: &[&'a str]) -> Option<&'a str> {
    cues.iter().find(|c| text.contains(**c)).copied()
}

/// Does the text give a concrete date or deadline (2019年5月, 5月10日, 10个工作日内, 月底前 …)?
fn has_concrete_date(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if !c.is_ascii_digit() {
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        let unit: String = chars[j..chars.len().min(j + 4)].iter().collect();
        if [
            "年",
            "月",
            "日",
            "号",
            "个工作日",
            "天内",
            "日内",
            "周内",
            "个月",
        ]
        .iter()
        .any(|u| unit.starts_with(u))
        {
            return true;
        }
    }
    ["月底前", "年底前", "底前完成"]
        .iter()
        .any(|w| text.contains(w))
}

/// Check a reply against the message it answers. Both are raw texts (normalised inside).
pub fn check_reply(seg: &Segmenter, message: &str, reply: &str) -> ReplyCheck {
    let msg = normalize(message);
    let rep = normalize(reply);
    let mut findings = Vec::new();
    let mut add = |code: &str, message: &str, penalty: u8, evidence: Option<&str>| {
        findings.push(Finding {
            code: code.into(),
            message: message.into(),
            penalty,
            evidence: evidence.map(str::to_string),
        });
    };
    let rep_len = rep.chars().filter(|c| !c.is_whitespace()).count();
    if rep_len == 0 {
        add("empty", "答复为空", 100, None);
        return finish(findings, 0.0);
    }
    if rep_len < 60 {
        add("too_short", "答复过于简短，未说明处理过程和结果", 20, None);
    }
    // topic overlap: the message's most frequent key terms that the reply mentions
    let mut tf: FxHashMap<&str, usize> = FxHashMap::default();
    for w in seg.keywords(&msg) {
        if w.chars().count() >= 2 {
            *tf.entry(w).or_insert(0) += 1;
        }
    }
    let mut terms: Vec<(&str, usize)> = tf.into_iter().collect();
    terms.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.0.chars().count().cmp(&a.0.chars().count()))
            .then(a.0.cmp(b.0))
    });
    terms.truncate(12);
    let overlap = if terms.is_empty() {
        1.0
    } else {
        terms.iter().filter(|(t, _)| rep.contains(*t)).count() as f32 / terms.len() as f32
    };
    if !terms.is_empty() && terms.len() >= 3 {
        let missing: Vec<&str> = terms
            .iter()
            .filter(|(t, _)| !rep.contains(*t))
            .take(5)
            .map(|(t, _)| *t)
            .collect();
        if overlap < 0.15 {
            add(
                "off_topic",
                "答非所问：答复几乎未涉及来信反映的事项",
                25,
                Some(&missing.join("、")),
            );
        } else if overlap < 0.3 {
            add(
                "weak_topic",
                "答复与来信事项关联较弱，部分诉求未回应",
                10,
                Some(&missing.join("、")),
            );
        }
    }
    if find_any(&rep, REQUEST_CUES).is_none() && overlap < 0.5 {
        add("missing_request", "未复述信访人的诉求", 8, None);
    }
    let facts = find_any(&rep, FACT_CUES);
    if facts.is_none() {
        add(
            "missing_facts",
            "缺少调查核实的事实（经查/经核实）",
            15,
            None,
        );
    }
    if find_any(&rep, REASON_CUES).is_none() {
        add("missing_reasons", "缺少处理理由", 8, None);
    }
    let legal = rep.contains('《')
        && [
            "法》",
            "条例》",
            "办法》",
            "规定》",
            "规则》",
            "意见》",
            "通知》",
            "标准》",
            "细则》",
        ]
        .iter()
        .any(|w| rep.contains(w));
    if !legal && !rep.contains("条规定") {
        add(
            "missing_legal_basis",
            "未引用处理依据（依据《…》第…条）",
            6,
            None,
        );
    }
    if find_any(&rep, DECISION_CUES).is_none() {
        add(
            "missing_decision",
            "缺少明确的处理意见（支持/解释说明/不予支持）",
            15,
            None,
        );
    }
    if find_any(&rep, REVIEW_CUES).is_none() {
        add(
            "missing_review_right",
            "未告知信访人不服可在30日内请求复查的权利",
            4,
            None,
        );
    }
    let stock: Vec<&str> = PERFUNCTORY
        .iter()
        .filter(|p| rep.contains(**p))
        .copied()
        .collect();
    if !stock.is_empty() {
        let bare = facts.is_none() || rep_len < 150;
        if bare {
            add(
                "perfunctory",
                "敷衍套话，未说明具体情况和结果",
                20,
                Some(&stock.join("、")),
            );
        } else {
            add(
                "stock_phrase",
                "含有套话，建议写明具体措施",
                5,
                Some(&stock.join("、")),
            );
        }
    }
    if let Some(v) = find_any(&rep, VAGUE_TIME)
        && !has_concrete_date(&rep)
    {
        add(
            "vague_date",
            "时限含糊（近期/尽快/择机），未给出具体日期",
            8,
            Some(v),
        );
    }
    finish(findings, overlap)
}

fn finish(mut findings: Vec<Finding>, overlap: f32) -> ReplyCheck {
    findings.sort_by_key(|f| std::cmp::Reverse(f.penalty));
    let total: u32 = findings.iter().map(|f| u32::from(f.penalty)).sum();
    let score = 100u32.saturating_sub(total) as u8;
    ReplyCheck {
        score,
        findings,
        topic_overlap: overlap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::shared;

    const MSG: &str = "幸福小区物业乱收停车费\n幸福小区物业公司未经业主大会同意，擅自收取停车费，每月300元，业主多次反映无果。";

    #[test]
    fn good_reply_scores_high() {
        let reply = "您好！关于您反映幸福小区物业乱收停车费的问题，经调查核实，该小区物业公司确未经业主大会表决收取停车费。\
            根据《物业管理条例》第五十条规定，我局已责令物业公司于2024年6月30日前停止收费并退还已收停车费。\
            如对本答复不服，可在收到之日起30日内向上一级行政机关请求复查。";
        let c = check_reply(shared(), MSG, reply);
        assert!(c.score >= 90, "{c:?}");
    }

    #[test]
    fn perfunctory_reply_scores_low() {
        let c = check_reply(
            shared(),
            MSG,
            "您反映的问题已转相关部门，请耐心等待，我们会尽快处理。",
        );
        assert!(c.score < 50, "{c:?}");
        let codes: Vec<&str> = c.findings.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"perfunctory"), "{codes:?}");
        assert!(codes.contains(&"vague_date"), "{codes:?}");
    }

    #[test]
    fn off_topic_reply() {
        let c = check_reply(
            shared(),
            MSG,
            "经调查，该路段路灯已于5月10日修复，感谢您对城市管理工作的支持。根据《城市照明管理规定》处理。",
        );
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "off_topic" || f.code == "weak_topic"),
            "{c:?}"
        );
    }

    #[test]
    fn empty_reply() {
        assert_eq!(check_reply(shared(), MSG, "").score, 0);
        assert!(check_reply(shared(), "", "好").score < 100);
    }
}
