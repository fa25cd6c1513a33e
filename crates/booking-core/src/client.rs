//! What a client tells us about themselves: their name and optional notes.

use std::fmt;

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// The longest client name accepted, in characters after trimming.
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
/// The longest notes accepted, in characters.
pub const MAX_NOTES_CHARS: usize = 1000;

/// A client's name: 1 to 100 characters of letters (any script, with their combining marks),
/// spaces and the punctuation names use. Stored in Unicode NFC so that the same name typed on
/// two keyboards compares equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientName(String);

/// Why a client name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClientNameError {
    /// Nothing but white space was given.
    #[error("client_name must not be empty")]
    Empty,
    /// The trimmed name is longer than [`MAX_CLIENT_NAME_CHARS`].
    #[error("client_name is {length} characters long; at most {MAX_CLIENT_NAME_CHARS} are allowed")]
    TooLong {
        /// The length of the trimmed name, in characters.
        length: usize,
    },
    /// A character no name uses.
    #[error(
        "client_name contains {} at position {position}; names may contain letters, spaces, \
         apostrophes, hyphens, periods and commas",
        describe_char(*character)
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its position in the trimmed name, counted in characters from 1.
        position: usize,
    },
    /// Only punctuation and spaces.
    #[error("client_name must contain at least one letter")]
    NoLetter,
}

impl ClientName {
    /// Trims and validates a name.
    pub fn parse(raw: &str) -> Result<Self, ClientNameError> {
        let trimmed = raw.trim();
        // ASCII text is its own normal form: no need to decompose and recompose it.
        let name: String =
            if trimmed.is_ascii() { trimmed.to_owned() } else { trimmed.nfc().collect() };
        if name.is_empty() {
            return Err(ClientNameError::Empty);
        }
        let length = name.chars().count();
        if length > MAX_CLIENT_NAME_CHARS {
            return Err(ClientNameError::TooLong { length });
        }
        if let Some((index, character)) =
            name.chars().enumerate().find(|(_, c)| !is_name_character(*c))
        {
            return Err(ClientNameError::InvalidCharacter { character, position: index + 1 });
        }
        if !name.chars().any(char::is_alphabetic) {
            return Err(ClientNameError::NoLetter);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Letters of any script, their combining marks, the space, and the punctuation of names:
/// apostrophes (' and ’), hyphens (ASCII and Unicode), periods and commas.
fn is_name_character(c: char) -> bool {
    c.is_alphabetic()
        || c.general_category_group() == GeneralCategoryGroup::Mark
        || matches!(c, ' ' | '\'' | '\u{2019}' | '-' | '\u{2010}' | '\u{2011}' | '.' | ',')
}

/// A character as a person can read it in an error message, even when it is invisible.
pub(crate) fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}' (U+{:04X})", u32::from(c))
    }
}

/// Why free text was refused: the two ways, for each kind of text to name in its own error.
pub(crate) enum FreeTextFault {
    /// Longer than allowed: this many characters.
    TooLong(usize),
    /// This control character (other than a line break or tab), at this position from 1.
    Control(char, usize),
}

/// Free text as notes and reasons take it: trimmed, `None` when nothing is left, at most `most`
/// characters, and no control character other than line breaks and tabs.
pub(crate) fn free_text(raw: &str, most: usize) -> Result<Option<&str>, FreeTextFault> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let length = text.chars().count();
    if length > most {
        return Err(FreeTextFault::TooLong(length));
    }
    match text.chars().enumerate().find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some((index, character)) => Err(FreeTextFault::Control(character, index + 1)),
        None => Ok(Some(text)),
    }
}

/// Free-text notes a client adds to a booking: at most 1000 characters, no control characters
/// other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notes(String);

/// Why notes were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotesError {
    /// Longer than [`MAX_NOTES_CHARS`].
    #[error("notes are {length} characters long; at most {MAX_NOTES_CHARS} are allowed")]
    TooLong {
        /// The length of the notes, in characters.
        length: usize,
    },
    /// A control character other than a line break or tab.
    #[error(
        "notes contain the control character {} at position {position}; only line breaks and \
         tabs are allowed",
        describe_char(*character)
    )]
    ControlCharacter {
        /// The offending character.
        character: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
}

impl Notes {
    /// Validates notes. Notes that are empty once trimmed are no notes at all (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, NotesError> {
        let notes = free_text(raw, MAX_NOTES_CHARS).map_err(|fault| match fault {
            FreeTextFault::TooLong(length) => NotesError::TooLong { length },
            FreeTextFault::Control(character, position) => {
                NotesError::ControlCharacter { character, position }
            }
        })?;
        Ok(notes.map(|notes| Self(notes.to_owned())))
    }

    /// The notes as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_script_and_their_punctuation_are_welcome() {
        for name in [
            "José Ñúñez",
            "李小龍",
            "O'Brien-Smith",
            "Dr. Ana María",
            "Zoë O’Neil",
            "Nguyễn Văn A",
            "محمد",
            "Ana, Jr.",
        ] {
            let parsed = ClientName::parse(name).map(|n| n.as_str().to_owned());
            assert_eq!(parsed, Ok(name.nfc().collect::<String>()), "{name}");
        }
    }

    #[test]
    fn combining_marks_are_kept_and_normalized() {
        // "José" typed with a combining acute accent is stored as the precomposed form.
        let name = ClientName::parse("Jose\u{0301}").unwrap();
        assert_eq!(name.as_str(), "Jos\u{00e9}");
        // A mark that has no precomposed form stays as it is.
        assert!(ClientName::parse("Sha\u{0331}wn").is_ok());
    }

    #[test]
    fn names_are_trimmed() {
        assert_eq!(ClientName::parse("  Ada Lovelace \t").unwrap().as_str(), "Ada Lovelace");
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(ClientName::parse(""), Err(ClientNameError::Empty));
        assert_eq!(ClientName::parse("   \n"), Err(ClientNameError::Empty));
    }

    #[test]
    fn names_may_be_100_characters_but_not_101() {
        assert!(ClientName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            ClientName::parse(&"é".repeat(101)),
            Err(ClientNameError::TooLong { length: 101 })
        );
    }

    #[test]
    fn the_offending_character_is_named() {
        for (name, character, position) in [
            ("Ann<script>", '<', 4),
            ("Bob2", '2', 4),
            ("Eve\u{0}", '\u{0}', 4),
            ("Al\nice", '\n', 3),
            ("Joy 😀", '😀', 5),
            ("{x}", '{', 1),
        ] {
            assert_eq!(
                ClientName::parse(name),
                Err(ClientNameError::InvalidCharacter { character, position }),
                "{name:?}"
            );
        }
    }

    #[test]
    fn error_messages_show_invisible_characters_by_code_point() {
        let err = ClientName::parse("Al\u{7}ice").unwrap_err();
        assert_eq!(
            err.to_string(),
            "client_name contains U+0007 at position 3; names may contain letters, spaces, \
             apostrophes, hyphens, periods and commas"
        );
        let err = ClientName::parse("A<b").unwrap_err();
        assert!(err.to_string().contains("'<' (U+003C) at position 2"), "{err}");
    }

    #[test]
    fn names_need_a_letter() {
        assert_eq!(ClientName::parse("-.'"), Err(ClientNameError::NoLetter));
    }

    #[test]
    fn notes_are_optional_and_limited() {
        assert_eq!(Notes::parse("  "), Ok(None));
        assert_eq!(Notes::parse(" bring x-rays\n ").unwrap().unwrap().as_str(), "bring x-rays");
        assert!(Notes::parse(&"n".repeat(1000)).unwrap().is_some());
        assert_eq!(Notes::parse(&"n".repeat(1001)), Err(NotesError::TooLong { length: 1001 }));
        assert_eq!(
            Notes::parse("line\u{1b}[31m"),
            Err(NotesError::ControlCharacter { character: '\u{1b}', position: 5 })
        );
        assert!(Notes::parse("first line\nsecond\tline").unwrap().is_some());
    }
}
