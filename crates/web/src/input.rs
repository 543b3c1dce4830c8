//! Parsing request bodies into domain types, collecting an error per field.

use axum::body::Bytes;
use huiyin_domain::Instant;
use huiyin_domain::case::Command;
use huiyin_domain::petition::{
    AttachmentMeta, Channel, Group, Person, Petition, Petitioner, ProxyFiling, StatutoryClass,
};
use huiyin_domain::values::{
    Address, FieldError, IdCardNumber, PersonName, PetitionText, PhoneNumber, RegionCode, Title,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldErrorBody};

/// Deserialises JSON, reporting the path of the first offending field.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::malformed("请求体为空，应为 JSON 对象"));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::malformed(format!("JSON 格式错误：{inner}")));
            }
            // A value rejected by a parser (`try_from`) carries "code: message".
            let text = inner.to_string();
            let text = text.split(" at line").next().unwrap_or(&text).to_string();
            let (code, message) = match text.split_once(": ") {
                Some((c, m)) if c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') => {
                    (c.to_string(), m.to_string())
                }
                _ => ("invalid_value".to_string(), text.clone()),
            };
            let field = if path == "." {
                "body".to_string()
            } else {
                path
            };
            Err(ApiError::fields(vec![FieldErrorBody {
                field,
                code,
                message,
            }]))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PetitionerInput {
    #[serde(default)]
    pub anonymous: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Default)]
pub struct PersonFields {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub headcount: u32,
    #[serde(default)]
    pub representatives: Vec<PersonInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyInput {
    pub consent: String,
}

/// A petition as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PetitionInput {
    pub channel: Channel,
    pub petitioner: PetitionerInput,
    pub group: Option<GroupInput>,
    pub title: String,
    pub text: String,
    pub region: String,
    pub category: Option<String>,
    pub class: Option<StatutoryClass>,
    #[serde(default)]
    pub also_sent_to: Vec<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentMeta>,
    pub proxy: Option<ProxyInput>,
    /// 同意公开: the reply may be published with personal data masked.
    #[serde(default)]
    pub publish_consent: bool,
    /// Staff entry only: when a letter or visit was received.
    pub received_at: Option<Instant>,
}

struct Collector(Vec<FieldErrorBody>);

impl Collector {
    fn take<T>(&mut self, field: &str, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(FieldErrorBody {
                    field: field.to_string(),
                    code: e.code.to_string(),
                    message: e.message,
                });
                None
            }
        }
    }

    fn opt<T>(
        &mut self,
        field: &str,
        raw: &Option<String>,
        parse: fn(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        match raw.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => self.take(field, parse(s)),
        }
    }

    fn person(&mut self, prefix: &str, p: &PersonFields) -> Option<Person> {
        let name = match p.name.as_deref().map(str::trim) {
            None | Some("") => {
                self.0.push(FieldErrorBody {
                    field: format!("{prefix}.name"),
                    code: "name_required".into(),
                    message: "请填写姓名；不愿留名请选择匿名".into(),
                });
                None
            }
            Some(n) => self.take(&format!("{prefix}.name"), PersonName::parse(n)),
        };
        let phone = self.opt(&format!("{prefix}.phone"), &p.phone, PhoneNumber::parse);
        let id_card = self.opt(
            &format!("{prefix}.id_card"),
            &p.id_card,
            IdCardNumber::parse,
        );
        let address = self.opt(&format!("{prefix}.address"), &p.address, Address::parse);
        Some(Person {
            name: name?,
            phone,
            id_card,
            address,
        })
    }
}

impl PetitionInput {
    /// Parses every field, reporting all errors at once.
    pub fn parse(self, proxy_user: Option<&str>) -> Result<(Petition, Option<Instant>), ApiError> {
        let mut c = Collector(Vec::new());
        let petitioner = if self.petitioner.anonymous {
            Some(Petitioner::Anonymous)
        } else {
            let p = self.petitioner;
            let fields = PersonFields {
                name: p.name,
                phone: p.phone,
                id_card: p.id_card,
                address: p.address,
            };
            let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
            let has_contact = given(&fields.phone) || given(&fields.address);
            let person = c.person("petitioner", &fields);
            if !has_contact {
                c.0.push(FieldErrorBody {
                    field: "petitioner.phone".into(),
                    code: "contact_required".into(),
                    message: "实名信访请至少留下电话或地址，以便告知办理结果".into(),
                });
            }
            person.map(Petitioner::Named)
        };
        let title = c.take("title", Title::parse(&self.title));
        let text = c.take("text", PetitionText::parse(&self.text));
        let region = c.take("region", RegionCode::parse(&self.region));
        let group = match self.group {
            None => None,
            Some(g) => {
                let reps: Vec<Option<Person>> = g
                    .representatives
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        c.person(
                            &format!("group.representatives[{i}]"),
                            &PersonFields {
                                name: r.name.clone(),
                                phone: r.phone.clone(),
                                id_card: r.id_card.clone(),
                                address: r.address.clone(),
                            },
                        )
                    })
                    .collect();
                let reps: Option<Vec<Person>> = reps.into_iter().collect();
                reps.and_then(|reps| c.take("group", Group::parse(g.headcount, reps)))
            }
        };
        let category = self
            .category
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if category.as_ref().is_some_and(|s| s.chars().count() > 100) {
            c.0.push(FieldErrorBody {
                field: "category".into(),
                code: "category_too_long".into(),
                message: "类别名称不能超过100个字".into(),
            });
        }
        let proxy = match (self.proxy, proxy_user) {
            (Some(p), Some(user)) => Some(ProxyFiling {
                proxy: user.to_string(),
                consent: p.consent,
            }),
            (Some(p), None) => Some(ProxyFiling {
                proxy: String::new(),
                consent: p.consent,
            }),
            (None, _) => None,
        };
        if !c.0.is_empty() {
            return Err(ApiError::fields(c.0));
        }
        let (Some(petitioner), Some(title), Some(text), Some(region)) =
            (petitioner, title, text, region)
        else {
            return Err(ApiError::malformed("请求不完整"));
        };
        let petition = Petition {
            channel: self.channel,
            petitioner,
            group,
            title,
            text,
            region,
            category,
            class: self.class,
            attachments: self.attachments,
            also_sent_to: self.also_sent_to,
            proxy,
            publish_consent: self.publish_consent,
        };
        if let Err(errors) = petition.validate() {
            return Err(ApiError::fields(
                errors
                    .into_iter()
                    .map(|(field, e)| FieldErrorBody {
                        field,
                        code: e.code.to_string(),
                        message: e.message,
                    })
                    .collect(),
            ));
        }
        Ok((petition, self.received_at))
    }
}

/// A command with an optional expected version (optimistic concurrency).
#[derive(Debug, Deserialize)]
pub struct ActionInput {
    #[serde(flatten)]
    pub command: Command,
    pub expected_version: Option<u64>,
}

/// A petitioner's action, authenticated by the receipt code and secret.
#[derive(Debug, Deserialize)]
pub struct PublicActionInput {
    pub receipt_code: String,
    pub secret: String,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupInput {
    pub receipt_code: String,
    pub secret: String,
}
