//! Configuration of each pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{constants::RocksDbWeight, IdentityFee},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
	traits::{ConvertInto, One, OpaqueKeys},
	Perbill,
};
use sp_version::RuntimeVersion;

use super::*;

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	/// Number of recent block hashes kept.
	pub const BlockHashCount: BlockNumber = 2400;
	/// Version of this runtime.
	pub const Version: RuntimeVersion = VERSION;
	/// Two seconds of compute per six-second block.
	pub RuntimeBlockWeights: BlockWeights =
		BlockWeights::with_sensible_defaults(MAXIMUM_BLOCK_WEIGHT, NORMAL_DISPATCH_RATIO);
	/// At most 5 MiB of block data.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |max| {
			*max = NORMAL_DISPATCH_RATIO * *max
		})
		.build();
	/// The generic Substrate SS58 prefix.
	pub const SS58Prefix: u16 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	type DbWeight = RocksDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = frame_support::traits::ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	/// Fees do not drift with congestion on the dev chain.
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Blocks per session: the author set can change this often.
	pub const SessionPeriod: BlockNumber = 10;
	/// The first session ends at block `SessionOffset`.
	pub const SessionOffset: BlockNumber = 0;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
	type NextSessionRotation = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
	// ZKPoT elects the block authors.
	type SessionManager = Zkpot;
	type SessionHandler = <SessionKeys as OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type KeyDeposit = ();
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

parameter_types! {
	/// Deposit a worker reserves while registered.
	pub const WorkerDeposit: Balance = 100 * UNIT;
	/// Reward of one elected round.
	pub const RoundReward: Balance = 10 * UNIT;
	/// Share of the round reward for the aggregator.
	pub const LeaderShare: Perbill = Perbill::from_percent(20);
	/// Deposit slashed per invalid proof beyond the free one.
	pub const InvalidProofSlash: Perbill = Perbill::from_percent(10);
	/// Deposit slashed from an aggregator that misses its turn.
	pub const AggregatorPenalty: Perbill = Perbill::from_percent(10);
	/// The rounds' steps in `on_initialize` take at most three quarters of a block; a task
	/// whose due step would go over waits for the next block.
	pub MaxHookWeight: Weight = NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_WEIGHT;
}

impl pallet_zkpot::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Currency = Balances;
	type TaskOrigin = frame_system::EnsureRoot<AccountId>;
	type Verifier = pallet_zkpot::NativeVerifier;
	type ValidatorRegistration = Session;
	type WorkerDeposit = WorkerDeposit;
	type RoundReward = RoundReward;
	type LeaderShare = LeaderShare;
	type FreeInvalidProofs = ConstU32<1>;
	type InvalidProofSlash = InvalidProofSlash;
	type AggregatorPenalty = AggregatorPenalty;
	type AuthorsPerRound = ConstU32<3>;
	type MaxAuthors = ConstU32<16>;
	/// A thousand contributors a round (`runtime/tests/weights.rs` checks that every step
	/// of such a round fits a block).
	type MaxContributors = ConstU32<1024>;
	type MaxTasks = ConstU32<8>;
	// The digits MLP's VKA is 8.9 KiB, a small CNN's about 12 KiB.
	type MaxVkaLen = ConstU32<{ 64 * 1024 }>;
	// ezkl proofs of these circuits are 4-8 KiB.
	type MaxProofLen = ConstU32<{ 32 * 1024 }>;
	type MaxInstances = ConstU32<16>;
	type MaxUriLen = ConstU32<256>;
	type HistoryDepth = ConstU32<64>;
	type MinWindow = ConstU32<1>;
	type MaxWindow = ConstU32<14_400>;
	type MaxHookWeight = MaxHookWeight;
	type WeightInfo = pallet_zkpot::weights::SubstrateWeight<Runtime>;
}
