//! What the schema generator emits, made into what the API server accepts
//! without a warning: integer formats it does not know (`uint32`) become
//! the nearest it does, and the root schema declares `metadata.name` so that
//! the CEL rules about the name can point at it (a refusal then names
//! `metadata.name` instead of `<nil>`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// Formats the API server validates; any other gets `Warning: unrecognized format`.
pub const KNOWN_FORMATS: &[&str] = &[
    "bsonobjectid",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "isbn",
    "isbn10",
    "isbn13",
    "creditcard",
    "ssn",
    "hexcolor",
    "rgbcolor",
    "byte",
    "password",
    "date",
    "duration",
    "datetime",
    "date-time",
    "int32",
    "int64",
    "float",
    "double",
];

/// The CRD as it is shipped in `crds/`.
pub fn for_api_server(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        if let Some(root) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            normalize_formats(root);
            declare_metadata_name(root);
        }
    }
    crd
}

/// The format the API server knows that holds every value of `format`;
/// `None` drops a format it cannot express (the type still validates).
fn known_format(format: &str) -> Option<&str> {
    match format {
        f if KNOWN_FORMATS.contains(&f) => Some(f),
        "int8" | "int16" | "uint8" | "uint16" => Some("int32"),
        "uint32" | "uint64" | "uint" => Some("int64"),
        _ => None,
    }
}

fn normalize_formats(schema: &mut JSONSchemaProps) {
    schema.format = schema.format.as_deref().and_then(known_format).map(str::to_string);
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.not.as_deref_mut());
    for child in children {
        normalize_formats(child);
    }
    match &mut schema.items {
        Some(JSONSchemaPropsOrArray::Schema(item)) => normalize_formats(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(normalize_formats),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = &mut schema.additional_properties {
        normalize_formats(extra);
    }
}

/// `metadata: {type: object, properties: {name: {type: string}}}`: the only
/// part of metadata a CRD may describe, and nothing more is constrained here.
fn declare_metadata_name(root: &mut JSONSchemaProps) {
    let string = JSONSchemaProps { type_: Some("string".into()), ..JSONSchemaProps::default() };
    let metadata = JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some([("name".to_string(), string)].into()),
        ..JSONSchemaProps::default()
    };
    root.properties.get_or_insert_default().entry("metadata".into()).or_insert(metadata);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_integer_formats_widen_to_known_ones() {
        assert_eq!(known_format("uint32"), Some("int64"));
        assert_eq!(known_format("uint16"), Some("int32"));
        assert_eq!(known_format("int32"), Some("int32"));
        assert_eq!(known_format("date-time"), Some("date-time"));
        assert_eq!(known_format("made-up"), None);
    }

    #[test]
    fn nested_formats_are_normalized() {
        let leaf = JSONSchemaProps { format: Some("uint32".into()), ..JSONSchemaProps::default() };
        let list = JSONSchemaProps {
            items: Some(JSONSchemaPropsOrArray::Schema(Box::new(leaf.clone()))),
            ..JSONSchemaProps::default()
        };
        let mut root = JSONSchemaProps {
            properties: Some([("a".to_string(), leaf), ("b".to_string(), list)].into()),
            ..JSONSchemaProps::default()
        };
        normalize_formats(&mut root);
        let props = root.properties.unwrap_or_default();
        assert_eq!(props["a"].format.as_deref(), Some("int64"));
        let Some(JSONSchemaPropsOrArray::Schema(item)) = &props["b"].items else { panic!("items lost") };
        assert_eq!(item.format.as_deref(), Some("int64"));
    }
}
