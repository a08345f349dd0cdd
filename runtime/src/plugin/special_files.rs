//! Special files in granted folders.
//!
//! Opening a named pipe (FIFO) blocks in the kernel until a writer comes,
//! and reading a character device can block the same way; a thread parked
//! there is out of reach of the epoch deadline, which only interrupts Wasm
//! code. So the host never opens them for a plugin: the linker's `open-at`
//! is replaced by one that looks at what the path names first (a `stat`,
//! which does not block on a FIFO) and refuses anything but a regular file,
//! a directory or a symbolic link (which `open-at` resolves, and checks
//! again, inside the grant) with `access`. Refusing is simpler and cheaper
//! than running every file call on a thread that could be abandoned, and no
//! plugin needs a FIFO or a device to process data.
//!
//! What it does not cover: a special file put in place between the `stat`
//! and the open by another process of the host (a plugin cannot create one:
//! WASI has no `mknod`). A stuck thread can still not keep `weir run` from
//! exiting: see the second Ctrl-C in `main.rs`.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{
    DescriptorFlags, DescriptorType, ErrorCode, Host as _, HostDescriptor as _, OpenFlags,
    PathFlags,
};

use super::host::HostState;

/// The interface whose `open-at` is replaced, as wasmtime-wasi names it.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// What `open-at` answers: the opened descriptor, or WASI's error code.
type Opened = Result<Resource<Descriptor>, ErrorCode>;

/// Replaces `open-at` in `linker` (which already holds wasmtime-wasi's) by
/// one that refuses special files.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, HostState>,
         (dir, path_flags, path, open_flags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            let node = store.data().node().to_string();
            let mut fs = store.data_mut().filesystem();
            let same_dir = Resource::new_borrow(dir.rep());
            // A path that does not exist yet (to be created) or cannot be
            // looked at is left to `open-at` to answer.
            if let Ok(stat) = fs.stat_at(same_dir, path_flags, path.clone())
                && !matches!(
                    stat.type_,
                    DescriptorType::RegularFile
                        | DescriptorType::Directory
                        | DescriptorType::SymbolicLink
                )
            {
                // Debug, not warn: a plugin could ask a million times.
                tracing::debug!(node, path, kind = ?stat.type_, "refused to open a special file");
                return Ok((Err(ErrorCode::Access),));
            }
            let opened: Opened = match fs.open_at(dir, path_flags, path, open_flags, flags) {
                Ok(descriptor) => Ok(descriptor),
                Err(error) => Err(fs.convert_error_code(error)?),
            };
            Ok((opened,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
