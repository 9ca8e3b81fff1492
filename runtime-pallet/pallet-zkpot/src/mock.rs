//! A mock runtime for the pallet's tests: System, Balances, Session (whose manager is the
//! pallet) and Zkpot with the real native verifier.

use crate as pallet_zkpot;
use frame_support::{
	weights::Weight,
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use sp_runtime::{
	testing::UintAuthorityId,
	traits::{ConvertInto, OpaqueKeys},
	BuildStorage, KeyTypeId, Perbill, RuntimeAppPublic,
};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Session: pallet_session,
		Zkpot: pallet_zkpot,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type ReserveIdentifier = [u8; 8];
	type MaxReserves = ConstU32<10>;
}

/// Blocks per session.
pub const SESSION_PERIOD: u64 = 5;

/// Accepts the dummy key type and nothing else.
pub struct TestSessionHandler;
impl pallet_session::SessionHandler<u64> for TestSessionHandler {
	const KEY_TYPE_IDS: &'static [KeyTypeId] = &[UintAuthorityId::ID];
	fn on_genesis_session<K: OpaqueKeys>(_: &[(u64, K)]) {}
	fn on_new_session<K: OpaqueKeys>(_: bool, _: &[(u64, K)], _: &[(u64, K)]) {}
	fn on_disabled(_: u32) {}
}

impl pallet_session::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = u64;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<ConstU64<SESSION_PERIOD>, ConstU64<0>>;
	type NextSessionRotation =
		pallet_session::PeriodicSessions<ConstU64<SESSION_PERIOD>, ConstU64<0>>;
	type SessionManager = Zkpot;
	type SessionHandler = TestSessionHandler;
	type Keys = UintAuthorityId;
	type DisablingStrategy = ();
	type WeightInfo = ();
	type Currency = Balances;
	type KeyDeposit = ();
}

parameter_types! {
	pub const WorkerDeposit: u64 = 100;
	pub const RoundReward: u64 = 1000;
	pub const LeaderShare: Perbill = Perbill::from_percent(20);
	pub const InvalidProofSlash: Perbill = Perbill::from_percent(10);
	pub const AggregatorPenalty: Perbill = Perbill::from_percent(50);
	/// Settable per test: the round size (the benchmark measurement raises it to the
	/// runtime's 1024) and the hooks' budget (deferral tests lower it).
	pub static MaxContributors: u32 = 16;
	pub static MaxHookWeight: Weight = Weight::MAX;
}

impl pallet_zkpot::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type TaskOrigin = frame_system::EnsureRoot<u64>;
	type Verifier = crate::NativeVerifier;
	type ValidatorRegistration = Session;
	type WorkerDeposit = WorkerDeposit;
	type RoundReward = RoundReward;
	type LeaderShare = LeaderShare;
	type FreeInvalidProofs = ConstU32<1>;
	type InvalidProofSlash = InvalidProofSlash;
	type AggregatorPenalty = AggregatorPenalty;
	type AuthorsPerRound = ConstU32<3>;
	type MaxAuthors = ConstU32<8>;
	type MaxContributors = MaxContributors;
	type MaxTasks = ConstU32<4>;
	type MaxVkaLen = ConstU32<{ 64 * 1024 }>;
	type MaxProofLen = ConstU32<{ 16 * 1024 }>;
	type MaxInstances = ConstU32<8>;
	type MaxUriLen = ConstU32<256>;
	type HistoryDepth = ConstU32<3>;
	type MinWindow = ConstU32<1>;
	type MaxWindow = ConstU32<1000>;
	type MaxHookWeight = MaxHookWeight;
	type WeightInfo = ();
}

/// The genesis author.
pub const GENESIS_AUTHOR: u64 = 100;

/// Accounts 1..=8 and the genesis author hold 10_000 each; account 9 less than a deposit.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(u64, u64)> = (1..=8).map(|a| (a, 10_000)).collect();
	balances.push((9, 50));
	balances.push((GENESIS_AUTHOR, 10_000));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	pallet_session::GenesisConfig::<Test> {
		keys: vec![(GENESIS_AUTHOR, GENESIS_AUTHOR, UintAuthorityId(GENESIS_AUTHOR))],
		..Default::default()
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs the chain's hooks up to block `n`.
pub fn run_to_block(n: u64) {
	System::run_to_block::<AllPalletsWithSystem>(n);
}
