//! A petition as received (信访事项): who brings it, through which channel, about what and
//! where, and how the law classifies it.

use serde::{Deserialize, Serialize};

use crate::values::{
    Address, FieldError, IdCardNumber, PersonName, PetitionText, PhoneNumber, RegionCode, Title,
};

/// How the petition reached the state (信访渠道).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 网上信访 through the web portal on a computer.
    OnlineWeb,
    /// 网上信访 from a phone (over 70% of online petitions).
    MobileWeb,
    /// 来信: a letter, entered by staff.
    Letter,
    /// 来访: a visit, entered by staff at reception.
    Visit,
    /// 来电: a call, entered by staff.
    Phone,
    /// 传真.
    Fax,
    /// Filed by a proxy (代理员/代办员) for someone who cannot go online.
    Proxy,
    /// Through the API by another system (e.g. a 12345 hotline platform).
    Api,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::OnlineWeb,
        Channel::MobileWeb,
        Channel::Letter,
        Channel::Visit,
        Channel::Phone,
        Channel::Fax,
        Channel::Proxy,
        Channel::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::OnlineWeb => "online_web",
            Channel::MobileWeb => "mobile_web",
            Channel::Letter => "letter",
            Channel::Visit => "visit",
            Channel::Phone => "phone",
            Channel::Fax => "fax",
            Channel::Proxy => "proxy",
            Channel::Api => "api",
        }
    }

    /// Whether the petition counts as online (网信) in the statistics.
    pub fn is_online(self) -> bool {
        matches!(self, Channel::OnlineWeb | Channel::MobileWeb | Channel::Api)
    }
}

/// One person's identifying and contact details. Sensitive: stored apart from the event log,
/// masked in lists, never shown to a unit accused in a 检举控告 matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: PersonName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<IdCardNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

impl Person {
    /// A masked summary for lists and for units that are not cleared: 张*, 138****1234.
    pub fn masked(&self) -> MaskedPerson {
        let mut chars = self.name.as_str().chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        let rest = chars.count();
        MaskedPerson {
            name: format!("{first}{}", "*".repeat(rest.clamp(1, 3))),
            phone: self.phone.as_ref().map(PhoneNumber::masked),
        }
    }
}

/// What a list or an uncleared reader may see of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedPerson {
    pub name: String,
    pub phone: Option<String>,
}

/// The petitioner (信访人): a named person, or anonymous (an anonymous petition cannot be
/// answered personally and gets no acceptance notice, Art. 23).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Petitioner {
    Named(Person),
    Anonymous,
}

/// A group petition (集体访/联名信): the headcount and at most five representatives (Art. 20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub headcount: u32,
    pub representatives: Vec<Person>,
}

impl Group {
    /// Art. 20: a group visit chooses at most five representatives.
    pub const MAX_REPRESENTATIVES: usize = 5;
    /// A group has at least this many people (a common threshold for 集体访; configurable
    /// reporting rules may use a higher one).
    pub const MIN_HEADCOUNT: u32 = 2;
    /// An upper bound against typing errors.
    pub const MAX_HEADCOUNT: u32 = 100_000;

    pub fn parse(headcount: u32, representatives: Vec<Person>) -> Result<Self, FieldError> {
        if !(Self::MIN_HEADCOUNT..=Self::MAX_HEADCOUNT).contains(&headcount) {
            return Err(FieldError::new(
                "group_headcount",
                format!(
                    "集体信访人数应在{}到{}之间",
                    Self::MIN_HEADCOUNT,
                    Self::MAX_HEADCOUNT
                ),
            ));
        }
        if representatives.len() > Self::MAX_REPRESENTATIVES {
            return Err(FieldError::new(
                "group_representatives",
                format!(
                    "多人信访应推选代表，代表人数不超过{}人（《信访工作条例》第二十条）",
                    Self::MAX_REPRESENTATIVES
                ),
            ));
        }
        if representatives.len() as u32 > headcount {
            return Err(FieldError::new(
                "group_representatives",
                "代表人数不能多于信访总人数",
            ));
        }
        Ok(Self {
            headcount,
            representatives,
        })
    }
}

/// The statutory class (Arts. 29–31), which decides the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "class", content = "route", rename_all = "snake_case")]
pub enum StatutoryClass {
    /// 建议意见类: suggestions and opinions.
    Suggestion,
    /// 检举控告类: reports and accusations against officials or units; the petitioner's identity
    /// is protected (Art. 30).
    Accusation,
    /// 申诉求决类: appeals and demands, down one of six routes.
    Appeal(AppealRoute),
}

impl StatutoryClass {
    pub fn code(self) -> &'static str {
        match self {
            StatutoryClass::Suggestion => "suggestion",
            StatutoryClass::Accusation => "accusation",
            StatutoryClass::Appeal(_) => "appeal",
        }
    }

    /// Whether the matter leaves the petition procedure for another legal procedure (so the
    /// competent organ declines it with guidance rather than handling it as a petition).
    pub fn leaves_petition_procedure(self) -> bool {
        matches!(self, StatutoryClass::Appeal(route) if route != AppealRoute::PetitionProcedure)
    }
}

/// The six routes of a 申诉求决 matter (Art. 31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealRoute {
    /// 涉法涉诉: court, procuratorate, police or administrative review — 诉访分离.
    LawAndLitigation,
    /// 仲裁: arbitration.
    Arbitration,
    /// 党员申诉/申请复审: a party member's appeal.
    PartyMemberAppeal,
    /// 行政程序: 复议, 裁决, 确认, 许可, 处罚.
    AdministrativeProcedure,
    /// 履职: a request that an organ perform a legal duty.
    LegalDuty,
    /// 信访程序: stays in the petition procedure, ends with a 信访处理意见书.
    PetitionProcedure,
}

/// An attachment's metadata (the bytes live in storage, checked by content on upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub file_name: String,
    pub media_type: String,
    pub size_bytes: u64,
    /// SM3 of the content, hex.
    pub sm3: String,
}

/// A petition as received, with the petitioner's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Petition {
    pub channel: Channel,
    pub petitioner: Petitioner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    pub title: Title,
    pub text: PetitionText,
    /// Where the matter happened (GB/T 2260).
    pub region: RegionCode,
    /// Content category from the configurable taxonomy (e.g. 城乡建设/住房保障).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The class the petitioner or the registrar chose; the registrar decides at 登记.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<StatutoryClass>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentMeta>,
    /// 一信多投: the other organs the same letter was sent to, as named by the petitioner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_sent_to: Vec<String>,
    /// A proxy (代理员) who filed it for the petitioner, with the petitioner's consent recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyFiling>,
    /// 同意公开: the petitioner agrees that the reply may be published, with personal data
    /// masked (the public portal's search). Off unless asked for; withdrawable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_consent: bool,
}

/// A filing by a proxy on someone's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyFiling {
    /// The proxy's user id.
    pub proxy: String,
    /// How the petitioner consented (signed form, recorded call…).
    pub consent: String,
}

impl Petition {
    /// Cross-field rules that single values cannot check.
    pub fn validate(&self) -> Result<(), Vec<(String, FieldError)>> {
        let mut errors = Vec::new();
        if self.channel == Channel::Proxy && self.proxy.is_none() {
            errors.push((
                "proxy".to_string(),
                FieldError::new("proxy_consent_missing", "代理提交须记录信访人的同意方式"),
            ));
        }
        if let Some(proxy) = &self.proxy
            && proxy.consent.trim().chars().count() < 2
        {
            errors.push((
                "proxy.consent".to_string(),
                FieldError::new("proxy_consent_missing", "代理提交须记录信访人的同意方式"),
            ));
        }
        if self.also_sent_to.len() > 50 {
            errors.push((
                "also_sent_to".to_string(),
                FieldError::new("also_sent_to_too_many", "同时投递的机关最多填写50个"),
            ));
        }
        if self.attachments.len() > 20 {
            errors.push((
                "attachments".to_string(),
                FieldError::new("attachments_too_many", "附件最多20个"),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The petition without its personal data: what goes into the event log. The personal
    /// data is kept in its own store (encrypted, read-logged) and referenced by digest.
    pub fn record(&self, personal_digest: Option<String>) -> PetitionRecord {
        let masked = match &self.petitioner {
            Petitioner::Named(person) => Some(person.masked()),
            Petitioner::Anonymous => None,
        };
        PetitionRecord {
            channel: self.channel,
            anonymous: matches!(self.petitioner, Petitioner::Anonymous),
            petitioner_masked: masked,
            personal_digest,
            group_headcount: self.group.as_ref().map(|g| g.headcount),
            group_representatives: self
                .group
                .as_ref()
                .map_or(0, |g| g.representatives.len() as u32),
            title: self.title.clone(),
            text: self.text.clone(),
            region: self.region.clone(),
            category: self.category.clone(),
            class: self.class,
            attachments: self.attachments.clone(),
            also_sent_to: self.also_sent_to.clone(),
            proxy: self.proxy.clone(),
            publish_consent: self.publish_consent,
        }
    }
}

/// A petition as the event log keeps it: no raw personal data, only the masked form and a
/// digest of the separately stored personal record (so tampering with it is still evident).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PetitionRecord {
    pub channel: Channel,
    pub anonymous: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub petitioner_masked: Option<MaskedPerson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_headcount: Option<u32>,
    #[serde(default)]
    pub group_representatives: u32,
    pub title: Title,
    pub text: PetitionText,
    pub region: RegionCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<StatutoryClass>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentMeta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_sent_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyFiling>,
    /// See [`Petition::publish_consent`]; absent (false) in events written before it existed,
    /// so their hashes are unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_consent: bool,
}
