//! Passes an input batch into a plugin's memory with one copy per buffer.
//!
//! The contract's `batch-bytes` is a `list<u8>` of Arrow IPC bytes. Lowering
//! a `&[u8]` needs the whole message in one host buffer first, so every
//! column would be copied twice: into that buffer, then into the guest's
//! memory. [`GuestBatch`] lowers a [`FramedBatch`] as the same `list<u8>`:
//! it asks the guest's allocator for the message's size and copies the head
//! and each of the arrays' buffers straight into the guest's memory. The
//! guest receives the same bytes either way; only the host's copy is saved
//! (a third of the selection path's overhead on 8192 rows of `i64`).
//!
//! wasmtime's `ComponentType` and `Lower` traits are public but their items
//! are `doc(hidden)`, used by its derive macros and outside its stability
//! promise. This module is the only place that depends on them (the
//! lockfile pins wasmtime; an upgrade that changes them fails to compile
//! here, and every plugin test passes batches through this path).

use std::mem::MaybeUninit;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lift, Lower, TypedFunc};
use wasmtime::{AsContextMut, ValRaw};
use weir_ipc::FramedBatch;

/// The alignment the canonical ABI gives a `list<u8>`: the guest's bindings
/// free the list with this layout, so it must be the one asked for. (Guest
/// allocators return 8-aligned blocks anyway, which keeps the IPC buffers
/// aligned for the guest's reader.)
const ALIGN: u32 = 1;

/// A framed batch lowered as the `list<u8>` of its IPC bytes.
pub(crate) struct GuestBatch<'a>(pub(crate) &'a FramedBatch<'a>);

// SAFETY: the representation is `list<u8>`'s, taken from `[u8]`, and
// `typecheck` accepts exactly what `[u8]` accepts.
unsafe impl ComponentType for GuestBatch<'_> {
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes a pointer and length the guest's own allocator returned
// (which wasmtime checked is in bounds and aligned), as `[u8]` does.
unsafe impl Lower for GuestBatch<'_> {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.copy_in(cx)?;
        // Pointers are always written as 64-bit values, as wasmtime does.
        dst.write([ValRaw::i64(ptr as i64), ValRaw::i64(len as i64)]);
        Ok(())
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.copy_in(cx)?;
        *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
        *cx.get::<4>(offset + 4) = u32::try_from(len)?.to_le_bytes();
        Ok(())
    }
}

impl GuestBatch<'_> {
    /// Allocates the message in the guest and writes it there.
    fn copy_in<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<(usize, usize)> {
        let len = self.0.len();
        // `realloc` checks that the range is in bounds and aligned.
        let ptr = cx.realloc(0, 0, ALIGN, len)?;
        self.0.write_to(&mut cx.as_slice_mut()[ptr..][..len]);
        Ok((ptr, len))
    }
}

/// Calls `func`, a contract function taking one `batch-bytes`, with `batch`.
pub(crate) fn call_with_batch<R>(
    func: TypedFunc<(&Vec<u8>,), (R,)>,
    store: impl AsContextMut,
    batch: &FramedBatch<'_>,
) -> wasmtime::Result<R>
where
    R: Lift + 'static,
{
    // SAFETY: the bindings type-checked `func` with `&Vec<u8>` (a `list<u8>`) as its parameter
    // when the instance was created, and `GuestBatch` has `[u8]`'s type.
    let typed = unsafe { TypedFunc::<(GuestBatch<'_>,), (R,)>::new_unchecked(*func.func()) };
    typed.call(store, (GuestBatch(batch),)).map(|(r,)| r)
}
