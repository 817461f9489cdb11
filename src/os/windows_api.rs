//! The Windows API calls portowner makes itself, beyond those netstat2 (the TCP table) and
//! sysinfo (the process snapshot) make: the services the Service Control Manager runs in each
//! process, and process tokens (the user a process runs as; whether portowner is elevated).
//!
//! This is the only module allowed `unsafe`. Each block says why it is sound; every function
//! returns plain owned data, and every handle is closed on drop ([`Owned`]).

#![allow(unsafe_code)]

use std::mem::size_of;

use windows::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_MORE_DATA, HANDLE};
use windows::Win32::Security::{
    GetTokenInformation, LookupAccountSidW, PSID, SID_NAME_USE, TOKEN_ELEVATION,
    TOKEN_INFORMATION_CLASS, TOKEN_QUERY, TOKEN_USER, TokenElevation, TokenUser,
};
use windows::Win32::System::Services::{
    ENUM_SERVICE_STATUS_PROCESSW, EnumServicesStatusExW, OpenSCManagerW, SC_ENUM_PROCESS_INFO,
    SC_MANAGER_ENUMERATE_SERVICE, SERVICE_ACTIVE, SERVICE_WIN32,
};
use windows::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows::core::{Error, Owned, PCWSTR, PWSTR, Result};

use super::services::HostedService;
use crate::model::Pid;

/// Rounds of `EnumServicesStatusExW` before giving up on a service list that keeps growing.
const MAX_ENUM_ROUNDS: usize = 8;

/// Every running Win32 service and the PID of the process it runs in. Stopped services and
/// drivers have no process and are left out.
pub fn hosted_services() -> Result<Vec<HostedService>> {
    // SAFETY: null machine and database names select the local, active service database; the
    // returned handle is owned here and closed by `Owned` on drop.
    let manager = unsafe {
        Owned::new(OpenSCManagerW(
            PCWSTR::null(),
            PCWSTR::null(),
            SC_MANAGER_ENUMERATE_SERVICE,
        )?)
    };
    let mut found = Vec::new();
    let mut resume = 0u32;
    let mut buffer: Vec<u64> = Vec::new();
    for _ in 0..MAX_ENUM_ROUNDS {
        let (mut needed, mut returned) = (0u32, 0u32);
        let bytes = (!buffer.is_empty()).then(|| as_bytes(&mut buffer));
        // SAFETY: `manager` is open with SC_MANAGER_ENUMERATE_SERVICE; `bytes` is either None
        // (a sizing call) or a writable buffer whose length the wrapper passes along; the
        // counters and the resume handle are valid for writes for the whole call.
        let result = unsafe {
            EnumServicesStatusExW(
                *manager,
                SC_ENUM_PROCESS_INFO,
                SERVICE_WIN32,
                SERVICE_ACTIVE,
                bytes,
                &mut needed,
                &mut returned,
                Some(&mut resume),
                PCWSTR::null(),
            )
        };
        found.extend(read_services(&buffer, returned));
        match result {
            Ok(()) => return Ok(found),
            Err(e) if e.code() == ERROR_MORE_DATA.to_hresult() => {
                buffer = vec![0; needed.div_ceil(8) as usize + 1];
            }
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// The entries `EnumServicesStatusExW` wrote at the start of `buffer`.
fn read_services(buffer: &[u64], returned: u32) -> Vec<HostedService> {
    let fits = std::mem::size_of_val(buffer) / size_of::<ENUM_SERVICE_STATUS_PROCESSW>();
    let count = (returned as usize).min(fits);
    // SAFETY: the call that filled `buffer` reported `returned` entries at its start (and
    // `count` never exceeds what fits); the buffer is 8-byte aligned like the entries, and
    // every bit pattern is a valid entry (pointers and integers only).
    let entries = unsafe {
        std::slice::from_raw_parts(
            buffer.as_ptr().cast::<ENUM_SERVICE_STATUS_PROCESSW>(),
            count,
        )
    };
    entries
        .iter()
        .filter(|entry| entry.ServiceStatusProcess.dwProcessId != 0)
        .filter(|entry| !entry.lpServiceName.is_null())
        .filter_map(|entry| {
            // SAFETY: the name is a NUL-terminated string the SCM wrote into `buffer`, which
            // is borrowed for the whole of this function.
            let name = unsafe { entry.lpServiceName.to_string() }.ok()?;
            Some(HostedService {
                name,
                pid: entry.ServiceStatusProcess.dwProcessId,
            })
        })
        .collect()
}

/// `buffer` as writable bytes.
fn as_bytes(buffer: &mut [u64]) -> &mut [u8] {
    let len = std::mem::size_of_val(buffer);
    // SAFETY: the bytes are exactly the slice's memory, borrowed mutably for as long as the
    // slice; u8 has no alignment or validity requirement, and any bytes are a valid u64.
    unsafe { std::slice::from_raw_parts_mut(buffer.as_mut_ptr().cast::<u8>(), len) }
}

/// Whether portowner itself runs elevated (an administrator token with UAC lifted).
pub fn is_elevated() -> Result<bool> {
    // SAFETY: GetCurrentProcess has no preconditions; its pseudo-handle needs no closing.
    let me = unsafe { GetCurrentProcess() };
    let token = open_token(me)?;
    let mut elevation = TOKEN_ELEVATION::default();
    let mut written = 0u32;
    // SAFETY: the output buffer is a TOKEN_ELEVATION and its exact size is passed; `written`
    // is valid for writes; the token is open with TOKEN_QUERY.
    unsafe {
        GetTokenInformation(
            *token,
            TokenElevation,
            Some((&raw mut elevation).cast()),
            size_of::<TOKEN_ELEVATION>() as u32,
            &mut written,
        )?;
    }
    Ok(elevation.TokenIsElevated != 0)
}

/// The account a process runs as, `DOMAIN\name`. Fails with the OS's reason when the process
/// may not be opened (protected, another session's, or portowner not elevated).
pub fn process_user(pid: Pid) -> Result<String> {
    // SAFETY: OpenProcess has no memory preconditions; the handle it returns is owned here
    // and closed on drop.
    let process =
        unsafe { Owned::new(OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid)?) };
    let token = open_token(*process)?;
    let info = token_information(*token, TokenUser)?;
    if std::mem::size_of_val(info.as_slice()) < size_of::<TOKEN_USER>() {
        return Err(ERROR_INSUFFICIENT_BUFFER.into());
    }
    // SAFETY: GetTokenInformation(TokenUser) succeeded into `info`, so it starts with a
    // TOKEN_USER (checked to fit, 8-byte aligned); its SID points into `info`, which lives
    // until the end of this function.
    let sid = unsafe { (*info.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    account_name(sid)
}

/// The access token of `process`, for queries.
fn open_token(process: HANDLE) -> Result<Owned<HANDLE>> {
    let mut token = HANDLE::default();
    // SAFETY: `process` is a valid process handle (the caller's pseudo-handle or an open
    // handle); `token` is valid for writes and, on success, owned here and closed on drop.
    unsafe {
        OpenProcessToken(process, TOKEN_QUERY, &mut token)?;
        Ok(Owned::new(token))
    }
}

/// A variable-size token information class, in an 8-byte-aligned buffer.
fn token_information(token: HANDLE, class: TOKEN_INFORMATION_CLASS) -> Result<Vec<u64>> {
    let mut needed = 0u32;
    // SAFETY: a sizing call: no output buffer and length 0; `needed` is valid for writes.
    let sizing = unsafe { GetTokenInformation(token, class, None, 0, &mut needed) };
    if needed == 0 {
        return sizing.and(Err(Error::empty()));
    }
    let mut buffer = vec![0u64; (needed as usize).div_ceil(size_of::<u64>())];
    let length = std::mem::size_of_val(buffer.as_slice());
    // SAFETY: the buffer is writable for `length` bytes, at least the size just reported;
    // `needed` is valid for writes; the token is open with TOKEN_QUERY.
    unsafe {
        GetTokenInformation(
            token,
            class,
            Some(buffer.as_mut_ptr().cast()),
            length as u32,
            &mut needed,
        )?;
    }
    Ok(buffer)
}

/// `DOMAIN\name` for a SID, from the local account database or the domain.
fn account_name(sid: PSID) -> Result<String> {
    let (mut name_len, mut domain_len) = (0u32, 0u32);
    let mut kind = SID_NAME_USE::default();
    // SAFETY: a sizing call: no buffers and zero lengths; the lengths and `kind` are valid for
    // writes; `sid` is valid for the duration (the caller keeps its buffer alive).
    let sizing = unsafe {
        LookupAccountSidW(
            PCWSTR::null(),
            sid,
            None,
            &mut name_len,
            None,
            &mut domain_len,
            &mut kind,
        )
    };
    if name_len == 0 {
        return sizing.and(Err(Error::empty()));
    }
    let mut name = vec![0u16; name_len as usize];
    let mut domain = vec![0u16; domain_len.max(1) as usize];
    domain_len = domain.len() as u32;
    // SAFETY: both buffers are writable for the lengths passed (in UTF-16 units, as the
    // sizing call asked); the lengths and `kind` are valid for writes; `sid` as above.
    unsafe {
        LookupAccountSidW(
            PCWSTR::null(),
            sid,
            Some(PWSTR(name.as_mut_ptr())),
            &mut name_len,
            Some(PWSTR(domain.as_mut_ptr())),
            &mut domain_len,
            &mut kind,
        )?;
    }
    Ok(qualified(&name, name_len, &domain, domain_len))
}

/// `DOMAIN\name`, or `name` when there is no domain; lengths exclude the NUL.
fn qualified(name: &[u16], name_len: u32, domain: &[u16], domain_len: u32) -> String {
    let text = |units: &[u16], len: u32| {
        let used = units.get(..len as usize).unwrap_or(units);
        String::from_utf16_lossy(used)
            .trim_end_matches('\0')
            .to_string()
    };
    let (name, domain) = (text(name, name_len), text(domain, domain_len));
    if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_control_manager_lists_running_services_with_their_processes() {
        // Windows always runs Plug and Play; so does Wine, among its own few services.
        let services = hosted_services().unwrap();
        assert!(
            services
                .iter()
                .any(|s| s.name.eq_ignore_ascii_case("PlugPlay")),
            "{services:?}"
        );
        assert!(services.iter().all(|s| s.pid != 0 && !s.name.is_empty()));
    }

    #[test]
    fn the_elevation_of_this_process_can_be_told() {
        assert!(is_elevated().is_ok(), "{:?}", is_elevated());
    }

    #[test]
    fn this_process_runs_as_a_named_account() {
        let user = process_user(std::process::id()).unwrap();
        assert!(!user.is_empty() && !user.contains('\0'), "{user:?}");
    }

    #[test]
    fn a_process_that_does_not_exist_has_no_user_and_says_why() {
        // PIDs are multiples of 4 on Windows; this one is far beyond any real table.
        let error = process_user(0xFFFF_FFF0).unwrap_err();
        assert!(!error.message().is_empty(), "{error:?}");
    }

    #[test]
    fn account_names_join_domain_and_name() {
        let units = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let (name, domain) = (units("svc-mail\0"), units("CONTOSO\0"));
        assert_eq!(qualified(&name, 8, &domain, 7), "CONTOSO\\svc-mail");
        assert_eq!(qualified(&name, 8, &[0], 0), "svc-mail");
    }
}
