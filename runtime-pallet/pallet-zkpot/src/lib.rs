//! # ZKPoT pallet
//!
//! Zero-Knowledge Proof of Training consensus. Workers register with a deposit; later
//! issues add tasks, commit-reveal rounds with natively verified Halo2 proofs and the
//! election of block authors from proven model performance.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[frame_support::pallet]
pub mod pallet {
	use frame_support::{
		pallet_prelude::*,
		traits::{Currency, ReservableCurrency},
	};
	use frame_system::pallet_prelude::*;

	/// Balance type of the currency that holds worker deposits.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Currency<<T as frame_system::Config>::AccountId>>::Balance;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the ZKPoT pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;
		/// Currency in which worker deposits are reserved.
		type Currency: ReservableCurrency<Self::AccountId>;
		/// Deposit reserved from an account while it is registered as a worker.
		#[pallet::constant]
		type WorkerDeposit: Get<BalanceOf<Self>>;
	}

	/// Registered workers and the deposit each one has reserved.
	#[pallet::storage]
	pub type Workers<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, OptionQuery>;

	/// Events of the ZKPoT pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An account registered as a worker and reserved its deposit.
		WorkerRegistered {
			/// The new worker.
			who: T::AccountId,
			/// The deposit reserved from it.
			deposit: BalanceOf<T>,
		},
	}

	/// Errors of the ZKPoT pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a registered worker.
		AlreadyRegistered,
		/// The account cannot reserve the worker deposit.
		InsufficientDeposit,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register the signer as a worker, reserving `WorkerDeposit` from its free balance.
		#[pallet::call_index(0)]
		#[pallet::weight(T::DbWeight::get().reads_writes(2, 2).saturating_add(Weight::from_parts(20_000_000, 0)))]
		pub fn register_worker(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Workers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			let deposit = T::WorkerDeposit::get();
			T::Currency::reserve(&who, deposit).map_err(|_| Error::<T>::InsufficientDeposit)?;
			Workers::<T>::insert(&who, deposit);
			Self::deposit_event(Event::WorkerRegistered { who, deposit });
			Ok(())
		}
	}
}
