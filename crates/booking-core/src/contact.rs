//! How the business can reach a client: an optional email address and phone number, each
//! checked when given. Neither is ever written to a log: their `Debug` hides them.

use std::fmt;

use thiserror::Error;

/// The longest email address accepted, in characters (the most a mail path can carry).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email address, as browsers check `<input type="email">` (the WHATWG definition of a
/// valid email address): a local part of letters, digits and ``.!#$%&'*+/=?^_`{|}~-``, an `@`,
/// and a domain of dot-separated labels of letters, digits and inner hyphens (1-63 each).
/// Kept as given, trimmed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Longer than [`MAX_EMAIL_CHARS`].
    #[error("email is {0} characters long; at most {MAX_EMAIL_CHARS} are allowed")]
    TooLong(usize),
    /// Not the shape of an address.
    #[error(
        "email is not an address like name@example.com ({0}); leave it out if the client gave none"
    )]
    Invalid(&'static str),
}

impl Email {
    /// Trims and checks an address; an empty one is no address (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, EmailError> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let length = text.chars().count();
        if length > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong(length));
        }
        let (local, domain) = text.split_once('@').ok_or(EmailError::Invalid("no @"))?;
        let local_char = |c: char| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
        if local.is_empty() || !local.chars().all(local_char) {
            return Err(EmailError::Invalid("the part before the @ has a character not allowed"));
        }
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !domain.split('.').all(label_ok) {
            return Err(EmailError::Invalid("the domain after the @ is not a host name"));
        }
        Ok(Some(Self(text.to_owned())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(..)")
    }
}

/// A phone number in E.164 form: `+`, a country code and the number, 7 to 15 digits in all,
/// the first not 0. Spaces, hyphens, dots and parentheses between digits are accepted as typed
/// and dropped: `+44 20 7946 0958` is kept as `+442079460958`. A `(0)` after the country code
/// is refused rather than kept as a digit of a different number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// No leading `+` and country code.
    #[error(
        "phone must start with + and the country code, e.g. +44 20 7946 0958 (E.164); leave it \
         out if the client gave none"
    )]
    NoCountryCode,
    /// A character that is neither a digit nor a separator.
    #[error(
        "phone contains {0:?}; use digits, and spaces, hyphens, dots or parentheses between them"
    )]
    Character(char),
    /// A `(0)` after the country code.
    #[error(
        "phone has (0) after the country code; leave the 0 out, as it is not dialled from \
         abroad: +44 20 7946 0958"
    )]
    TrunkZero,
    /// Too few or too many digits, or a country code starting with 0.
    #[error("phone has {0} digits; E.164 numbers have 7 to 15, the first not 0")]
    Digits(usize),
}

impl Phone {
    /// Checks a number and writes it in E.164; an empty one is no number (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, PhoneError> {
        let text = raw.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let rest = text.strip_prefix('+').ok_or(PhoneError::NoCountryCode)?;
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(PhoneError::NoCountryCode);
        }
        if rest.replace(' ', "").contains("(0)") {
            // "+44 (0)20 ...": the 0 is dialled only from inside the country.
            return Err(PhoneError::TrunkZero);
        }
        if !rest.ends_with(|c: char| c.is_ascii_digit()) {
            return Err(PhoneError::Character(rest.chars().last().unwrap_or(' ')));
        }
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(PhoneError::Character(other)),
            }
        }
        if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::Digits(digits.len()));
        }
        Ok(Some(Self(format!("+{digits}"))))
    }

    /// The number in E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(..)")
    }
}

/// A client's contact details; both optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Contact {
    /// Their email address.
    pub email: Option<Email>,
    /// Their phone number.
    pub phone: Option<Phone>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Result<Option<String>, EmailError> {
        Email::parse(text).map(|e| e.map(|e| e.0))
    }

    fn phone(text: &str) -> Result<Option<String>, PhoneError> {
        Phone::parse(text).map(|p| p.map(|p| p.0))
    }

    #[test]
    fn addresses_browsers_accept_are_kept_as_given() {
        for address in
            ["ada@example.com", "Ada.Lovelace+booking@mail.example.co.uk", "a@b", "o'neil@x-y.org"]
        {
            assert_eq!(email(&format!("  {address} ")), Ok(Some(address.to_owned())), "{address}");
        }
        assert_eq!(email("  "), Ok(None));
    }

    #[test]
    fn other_text_is_not_an_address() {
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "ada@@example.com",
            "a b@example.com",
            "ada@exa_mple.com",
            "ada@-example.com",
            "ada@example..com",
            "josé@example.com",
            "ada@exámple.com",
        ] {
            assert!(matches!(Email::parse(bad), Err(EmailError::Invalid(_))), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(email(&long), Err(EmailError::TooLong(262)));
    }

    #[test]
    fn numbers_are_written_in_e164() {
        assert_eq!(phone("+44 20 7946 0958"), Ok(Some("+442079460958".into())));
        assert_eq!(phone("+1 (415) 555-0132"), Ok(Some("+14155550132".into())));
        assert_eq!(phone("+683 4002"), Ok(Some("+6834002".into())));
        assert_eq!(phone(""), Ok(None));
    }

    #[test]
    fn other_numbers_say_what_is_wrong() {
        assert_eq!(phone("020 7946 0958"), Err(PhoneError::NoCountryCode));
        assert_eq!(phone("+44 20 7946 0958 ext 2"), Err(PhoneError::Character('e')));
        assert_eq!(phone("+44 123"), Err(PhoneError::Digits(5)));
        assert_eq!(phone("+0 20 7946 0958"), Err(PhoneError::Digits(11)));
        assert_eq!(phone("+1234567890123456"), Err(PhoneError::Digits(16)));
        assert_eq!(phone("+44 (0)20 7946 0958"), Err(PhoneError::TrunkZero));
        assert_eq!(phone("+ 44 20 7946 0958"), Err(PhoneError::NoCountryCode));
        assert_eq!(phone("+(44) 20 7946 0958"), Err(PhoneError::NoCountryCode));
        assert_eq!(phone("+44 20 7946 0958-"), Err(PhoneError::Character('-')));
    }

    #[test]
    fn contact_details_never_show_in_debug() {
        let contact = Contact {
            email: Email::parse("ada@example.com").ok().flatten(),
            phone: Phone::parse("+442079460958").ok().flatten(),
        };
        let shown = format!("{contact:?}");
        assert!(!shown.contains("ada") && !shown.contains("4420"), "{shown}");
    }
}
