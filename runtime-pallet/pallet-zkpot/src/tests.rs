//! Unit tests of the ZKPoT pallet in the mock runtime.

use crate::{mock::*, Error, Event, Workers};
use frame_support::{assert_noop, assert_ok};

#[test]
fn register_worker_reserves_deposit() {
	new_test_ext().execute_with(|| {
		assert_ok!(Zkpot::register_worker(RuntimeOrigin::signed(1)));
		assert_eq!(Workers::<Test>::get(1), Some(100));
		assert_eq!(Balances::reserved_balance(1), 100);
		System::assert_last_event(Event::WorkerRegistered { who: 1, deposit: 100 }.into());
	});
}

#[test]
fn register_twice_fails_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		assert_ok!(Zkpot::register_worker(RuntimeOrigin::signed(1)));
		assert_noop!(Zkpot::register_worker(RuntimeOrigin::signed(1)), Error::<Test>::AlreadyRegistered);
		assert_eq!(Balances::reserved_balance(1), 100);
	});
}

#[test]
fn register_without_funds_fails() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Zkpot::register_worker(RuntimeOrigin::signed(5)),
			Error::<Test>::InsufficientDeposit
		);
		assert!(Workers::<Test>::get(5).is_none());
	});
}
