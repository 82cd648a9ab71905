use super::*;

const EXEC: &str = "name: sched_process_exec
ID: 365
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;

print fmt: \"filename=%s pid=%d old_pid=%d\", __get_str(filename), REC->pid, REC->old_pid
";

#[test]
fn parses_sched_process_exec() {
    let f = EventFormat::parse(EXEC).unwrap();
    assert_eq!(f.name.name, "sched_process_exec");
    assert_eq!(f.id, 365);
    assert_eq!(f.common_fields.len(), 4);
    assert_eq!(f.fields.len(), 3);
    assert_eq!(
        f.fields[0].kind,
        FieldKind::DataLoc {
            elem: Box::new(FieldKind::Int {
                bytes: 1,
                signed: false
            }),
            is_string: true
        }
    );
    assert_eq!(f.fields[0].c_type, "__data_loc char[]");
    assert_eq!(
        f.fields[1].kind,
        FieldKind::Int {
            bytes: 4,
            signed: true
        }
    );
    assert!(f.print_fmt.starts_with("\"filename=%s"));
    assert_eq!(f.min_record_size(), 20);
}

#[test]
fn field_kinds() {
    let k = |l: &str| parse_field_line(l).unwrap().kind;
    assert_eq!(
        k("field:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;"),
        FieldKind::CharArray { len: 16 }
    );
    assert_eq!(
        k("field:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;"),
        FieldKind::Array {
            elem: Box::new(FieldKind::Int {
                bytes: 8,
                signed: false
            }),
            len: 6
        }
    );
    assert_eq!(
        k("field:const char *const * argv;\toffset:16;\tsize:8;\tsigned:0;"),
        FieldKind::Pointer { bytes: 8 }
    );
    assert_eq!(
        k("field:bool x;\toffset:16;\tsize:1;\tsigned:0;"),
        FieldKind::Bool
    );
    assert_eq!(
        k("field:enum skb_drop_reason reason;\toffset:16;\tsize:4;\tsigned:0;"),
        FieldKind::Enum {
            bytes: 4,
            signed: false
        }
    );
    assert!(matches!(
        k("field:__rel_loc u8[] buf;\toffset:16;\tsize:4;\tsigned:0;"),
        FieldKind::RelLoc {
            is_string: false,
            ..
        }
    ));
    assert!(matches!(
        k("field:char buf[];\toffset:16;\tsize:0;\tsigned:0;"),
        FieldKind::FlexArray {
            is_string: true,
            ..
        }
    ));
    assert_eq!(
        k("field:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:0;"),
        FieldKind::CharArray { len: 16 }
    );
    assert_eq!(
        k("field:struct foo bar;\toffset:8;\tsize:24;\tsigned:0;"),
        FieldKind::Opaque { size: 24 }
    );
    // header_page style: blank after the colon.
    let f = parse_field_line("field: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;").unwrap();
    assert_eq!((f.name.as_str(), f.offset, f.size), ("timestamp", 0, 8));
}

#[test]
fn errors_name_the_line() {
    let bad = EXEC.replace("offset:12;", "offset:x;");
    let e = EventFormat::parse(&bad).unwrap_err();
    assert_eq!(e.line, 10);
    assert!(e.to_string().contains("offset"), "{e}");

    let e = EventFormat::parse(&EXEC.replace("ID: 365", "ID: -1")).unwrap_err();
    assert_eq!(e.line, 2);

    let no_print: String = EXEC.lines().take(11).collect::<Vec<_>>().join("\n");
    let e = EventFormat::parse(&no_print).unwrap_err();
    assert_eq!(e.kind, FormatErrorKind::Missing("print fmt:"));

    let e = EventFormat::parse(&EXEC.replace("pid_t old_pid", "pid_t pid")).unwrap_err();
    assert_eq!(e.kind, FormatErrorKind::Duplicate("pid".into()));
    assert_eq!(e.line, 11);

    let e = EventFormat::parse("").unwrap_err();
    assert_eq!(e.kind, FormatErrorKind::Missing("name:"));
}
