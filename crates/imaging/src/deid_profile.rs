//! The action table of DICOM PS3.15 Annex E, "Basic Application Level Confidentiality
//! Profile" (Table E.1-1), kept as data, plus the private attributes we keep.
//!
//! Each row keeps the standard's action code as written (`"X/Z/D"` ...) next to the
//! action we apply. Compound codes resolve to the strongest action the profile allows:
//! `X/Z`, `X/D`, `X/Z/D`, `X/Z/U*` remove (none of those attributes is Type 1 or 2 in the
//! MR Image IOD), `Z/D` empties; the few attributes that are Type 1 in the Enhanced MR
//! IOD get a dummy value instead in enhanced files ([`ENHANCED_TYPE1`]).
//!
//! The table holds every row of Table E.1-1 except those of modalities and objects that
//! never reach this code (RT, camera/GPS, label and barcode, real-time video flows,
//! waveforms, segmentation and presentation states, the retired Arbitrary group), plus
//! a few date and time attributes that newer editions of the table list. The repeating
//! groups (overlay data and comments 60xx, curves 50xx) are handled in `deid.rs`.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// What to do with one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `X`: remove the attribute.
    Remove,
    /// `Z`: replace with a zero-length value.
    Empty,
    /// `D`: replace with a non-identifying dummy value of the same VR.
    Dummy,
    /// `U`: replace each UID with a new one, the same within a session.
    Uid,
    /// `K`: keep.
    Keep,
}

/// One row of the profile table.
#[derive(Debug, Clone, Copy)]
pub struct ProfileEntry {
    pub tag: Tag,
    pub name: &'static str,
    /// The action code as the standard writes it (`X`, `Z`, `X/Z/D`, `X/Z/U*` ...).
    pub code: &'static str,
    /// The action applied: the strongest the code allows for a valid MR object.
    pub action: Action,
}

const fn row(
    group: u16,
    element: u16,
    name: &'static str,
    code: &'static str,
    action: Action,
) -> ProfileEntry {
    ProfileEntry {
        tag: Tag(group, element),
        name,
        code,
        action,
    }
}

use Action::{Dummy as D, Empty as Z, Keep as K, Remove as X, Uid as U};

/// Table E.1-1, the attributes that can appear in MR images (sorted by tag).
///
/// `Z` attributes of type 2 (PatientName, PatientID, StudyDate ...) are emptied, not
/// removed, so the object stays valid. `AcquisitionTime` (`X/Z` in the standard) is the
/// one deliberate deviation: real-time TR timing and slice order need it, and a time of
/// day without a date does not identify anyone.
#[rustfmt::skip]
pub static BASIC_PROFILE: &[ProfileEntry] = &[
    row(0x0000, 0x1000, "AffectedSOPInstanceUID", "X", X),
    row(0x0000, 0x1001, "RequestedSOPInstanceUID", "U", U),
    row(0x0002, 0x0003, "MediaStorageSOPInstanceUID", "U", U),
    row(0x0004, 0x1511, "ReferencedSOPInstanceUIDInFile", "U", U),
    row(0x0008, 0x0012, "InstanceCreationDate", "X/D", X),
    row(0x0008, 0x0013, "InstanceCreationTime", "X/Z/D", X),
    row(0x0008, 0x0014, "InstanceCreatorUID", "U", U),
    row(0x0008, 0x0015, "InstanceCoercionDateTime", "X", X),
    row(0x0008, 0x0018, "SOPInstanceUID", "U", U),
    row(0x0008, 0x0020, "StudyDate", "Z", Z),
    row(0x0008, 0x0021, "SeriesDate", "X/D", X),
    row(0x0008, 0x0022, "AcquisitionDate", "X/Z", X),
    row(0x0008, 0x0023, "ContentDate", "Z/D", Z),
    row(0x0008, 0x0024, "OverlayDate", "X", X),
    row(0x0008, 0x0025, "CurveDate", "X", X),
    row(0x0008, 0x002A, "AcquisitionDateTime", "X/Z/D", X),
    row(0x0008, 0x0030, "StudyTime", "Z", Z),
    row(0x0008, 0x0031, "SeriesTime", "X/D", X),
    // Standard: X/Z. Kept: real-time slice timing and volume order need it (module docs).
    row(0x0008, 0x0032, "AcquisitionTime", "X/Z", K),
    row(0x0008, 0x0033, "ContentTime", "Z/D", Z),
    row(0x0008, 0x0034, "OverlayTime", "X", X),
    row(0x0008, 0x0035, "CurveTime", "X", X),
    row(0x0008, 0x0050, "AccessionNumber", "Z", Z),
    row(0x0008, 0x0058, "FailedSOPInstanceUIDList", "U", U),
    row(0x0008, 0x0080, "InstitutionName", "X/Z/D", X),
    row(0x0008, 0x0081, "InstitutionAddress", "X", X),
    row(0x0008, 0x0082, "InstitutionCodeSequence", "X/Z/D", X),
    row(0x0008, 0x0090, "ReferringPhysicianName", "Z", Z),
    row(0x0008, 0x0092, "ReferringPhysicianAddress", "X", X),
    row(0x0008, 0x0094, "ReferringPhysicianTelephoneNumbers", "X", X),
    row(0x0008, 0x0096, "ReferringPhysicianIdentificationSequence", "X", X),
    row(0x0008, 0x009C, "ConsultingPhysicianName", "Z", Z),
    row(0x0008, 0x009D, "ConsultingPhysicianIdentificationSequence", "X", X),
    row(0x0008, 0x0201, "TimezoneOffsetFromUTC", "X", X),
    row(0x0008, 0x1010, "StationName", "X/Z/D", X),
    row(0x0008, 0x1030, "StudyDescription", "X", X),
    row(0x0008, 0x103E, "SeriesDescription", "X", X),
    row(0x0008, 0x1040, "InstitutionalDepartmentName", "X", X),
    row(0x0008, 0x1041, "InstitutionalDepartmentTypeCodeSequence", "X", X),
    row(0x0008, 0x1048, "PhysiciansOfRecord", "X", X),
    row(0x0008, 0x1049, "PhysiciansOfRecordIdentificationSequence", "X", X),
    row(0x0008, 0x1050, "PerformingPhysicianName", "X", X),
    row(0x0008, 0x1052, "PerformingPhysicianIdentificationSequence", "X", X),
    row(0x0008, 0x1060, "NameOfPhysiciansReadingStudy", "X", X),
    row(0x0008, 0x1062, "PhysiciansReadingStudyIdentificationSequence", "X", X),
    row(0x0008, 0x1070, "OperatorsName", "X/Z/D", X),
    row(0x0008, 0x1072, "OperatorIdentificationSequence", "X/D", X),
    row(0x0008, 0x1080, "AdmittingDiagnosesDescription", "X", X),
    row(0x0008, 0x1084, "AdmittingDiagnosesCodeSequence", "X", X),
    row(0x0008, 0x1110, "ReferencedStudySequence", "X/Z", X),
    row(0x0008, 0x1111, "ReferencedPerformedProcedureStepSequence", "X/Z/D", X),
    row(0x0008, 0x1120, "ReferencedPatientSequence", "X", X),
    row(0x0008, 0x1140, "ReferencedImageSequence", "X/Z/U*", X),
    row(0x0008, 0x1155, "ReferencedSOPInstanceUID", "U", U),
    row(0x0008, 0x1195, "TransactionUID", "U", U),
    row(0x0008, 0x2111, "DerivationDescription", "X", X),
    row(0x0008, 0x2112, "SourceImageSequence", "X/Z/U*", X),
    row(0x0008, 0x3010, "IrradiationEventUID", "U", U),
    row(0x0008, 0x4000, "IdentifyingComments", "X", X),
    row(0x0010, 0x0010, "PatientName", "Z", Z),
    row(0x0010, 0x0020, "PatientID", "Z", Z),
    row(0x0010, 0x0021, "IssuerOfPatientID", "X", X),
    row(0x0010, 0x0030, "PatientBirthDate", "Z", Z),
    row(0x0010, 0x0032, "PatientBirthTime", "X", X),
    row(0x0010, 0x0040, "PatientSex", "Z", Z),
    row(0x0010, 0x0050, "PatientInsurancePlanCodeSequence", "X", X),
    row(0x0010, 0x0101, "PatientPrimaryLanguageCodeSequence", "X", X),
    row(0x0010, 0x0102, "PatientPrimaryLanguageModifierCodeSequence", "X", X),
    row(0x0010, 0x1000, "OtherPatientIDs", "X", X),
    row(0x0010, 0x1001, "OtherPatientNames", "X", X),
    row(0x0010, 0x1002, "OtherPatientIDsSequence", "X", X),
    row(0x0010, 0x1005, "PatientBirthName", "X", X),
    row(0x0010, 0x1010, "PatientAge", "X", X),
    row(0x0010, 0x1020, "PatientSize", "X", X),
    row(0x0010, 0x1030, "PatientWeight", "X", X),
    row(0x0010, 0x1040, "PatientAddress", "X", X),
    row(0x0010, 0x1050, "InsurancePlanIdentification", "X", X),
    row(0x0010, 0x1060, "PatientMotherBirthName", "X", X),
    row(0x0010, 0x1080, "MilitaryRank", "X", X),
    row(0x0010, 0x1081, "BranchOfService", "X", X),
    row(0x0010, 0x1090, "MedicalRecordLocator", "X", X),
    row(0x0010, 0x1100, "ReferencedPatientPhotoSequence", "X", X),
    row(0x0010, 0x2000, "MedicalAlerts", "X", X),
    row(0x0010, 0x2110, "Allergies", "X", X),
    row(0x0010, 0x2150, "CountryOfResidence", "X", X),
    row(0x0010, 0x2152, "RegionOfResidence", "X", X),
    row(0x0010, 0x2154, "PatientTelephoneNumbers", "X", X),
    row(0x0010, 0x2155, "PatientsTelecomInformation", "X", X),
    row(0x0010, 0x2160, "EthnicGroup", "X", X),
    row(0x0010, 0x2180, "Occupation", "X", X),
    row(0x0010, 0x21A0, "SmokingStatus", "X", X),
    row(0x0010, 0x21B0, "AdditionalPatientHistory", "X", X),
    row(0x0010, 0x21C0, "PregnancyStatus", "X", X),
    row(0x0010, 0x21D0, "LastMenstrualDate", "X", X),
    row(0x0010, 0x21F0, "PatientReligiousPreference", "X", X),
    row(0x0010, 0x2203, "PatientSexNeutered", "X/Z", X),
    row(0x0010, 0x2297, "ResponsiblePerson", "X", X),
    row(0x0010, 0x2299, "ResponsibleOrganization", "X", X),
    row(0x0010, 0x4000, "PatientComments", "X", X),
    row(0x0012, 0x0010, "ClinicalTrialSponsorName", "D", D),
    row(0x0012, 0x0020, "ClinicalTrialProtocolID", "D", D),
    row(0x0012, 0x0021, "ClinicalTrialProtocolName", "Z", Z),
    row(0x0012, 0x0030, "ClinicalTrialSiteID", "Z", Z),
    row(0x0012, 0x0031, "ClinicalTrialSiteName", "Z", Z),
    row(0x0012, 0x0040, "ClinicalTrialSubjectID", "D", D),
    row(0x0012, 0x0042, "ClinicalTrialSubjectReadingID", "D", D),
    row(0x0012, 0x0050, "ClinicalTrialTimePointID", "Z", Z),
    row(0x0012, 0x0051, "ClinicalTrialTimePointDescription", "X", X),
    row(0x0012, 0x0060, "ClinicalTrialCoordinatingCenterName", "Z", Z),
    row(0x0012, 0x0071, "ClinicalTrialSeriesID", "X", X),
    row(0x0012, 0x0072, "ClinicalTrialSeriesDescription", "X", X),
    row(0x0012, 0x0081, "ClinicalTrialProtocolEthicsCommitteeName", "D", D),
    row(0x0012, 0x0082, "ClinicalTrialProtocolEthicsCommitteeApprovalNumber", "X", X),
    row(0x0018, 0x0010, "ContrastBolusAgent", "Z/D", Z),
    row(0x0018, 0x1000, "DeviceSerialNumber", "X/Z/D", X),
    row(0x0018, 0x1002, "DeviceUID", "U", U),
    row(0x0018, 0x1004, "PlateID", "X", X),
    row(0x0018, 0x1005, "GeneratorID", "X", X),
    row(0x0018, 0x1007, "CassetteID", "X", X),
    row(0x0018, 0x1008, "GantryID", "X", X),
    row(0x0018, 0x1009, "UniqueDeviceIdentifier", "X", X),
    row(0x0018, 0x100A, "UDISequence", "X", X),
    row(0x0018, 0x100B, "ManufacturersDeviceClassUID", "U", U),
    row(0x0018, 0x1030, "ProtocolName", "X/D", X),
    row(0x0018, 0x1400, "AcquisitionDeviceProcessingDescription", "X/D", X),
    row(0x0018, 0x2042, "TargetUID", "U", U),
    row(0x0018, 0x4000, "AcquisitionComments", "X", X),
    row(0x0018, 0x700A, "DetectorID", "X/D", X),
    row(0x0018, 0x9185, "RespiratoryMotionCompensationTechniqueDescription", "X", X),
    row(0x0018, 0x9367, "XRaySourceID", "D", D),
    row(0x0018, 0x9369, "SourceStartDateTime", "D", D),
    row(0x0018, 0x936A, "SourceEndDateTime", "D", D),
    row(0x0018, 0x9371, "XRayDetectorID", "D", D),
    row(0x0018, 0x9373, "XRayDetectorLabel", "X", X),
    row(0x0018, 0x937B, "MultienergyAcquisitionDescription", "X", X),
    row(0x0018, 0x937F, "DecompositionDescription", "X", X),
    row(0x0018, 0x9424, "AcquisitionProtocolDescription", "X", X),
    row(0x0018, 0x9516, "StartAcquisitionDateTime", "X/D", X),
    row(0x0018, 0x9517, "EndAcquisitionDateTime", "X/D", X),
    row(0x0018, 0xA003, "ContributionDescription", "X", X),
    row(0x0020, 0x000D, "StudyInstanceUID", "U", U),
    row(0x0020, 0x000E, "SeriesInstanceUID", "U", U),
    row(0x0020, 0x0010, "StudyID", "Z", Z),
    row(0x0020, 0x0052, "FrameOfReferenceUID", "U", U),
    row(0x0020, 0x0200, "SynchronizationFrameOfReferenceUID", "U", U),
    row(0x0020, 0x3401, "ModifyingDeviceID", "X", X),
    row(0x0020, 0x3404, "ModifyingDeviceManufacturer", "X", X),
    row(0x0020, 0x3406, "ModifiedImageDescription", "X", X),
    row(0x0020, 0x4000, "ImageComments", "X", X),
    row(0x0020, 0x9158, "FrameComments", "X", X),
    row(0x0020, 0x9161, "ConcatenationUID", "U", U),
    row(0x0020, 0x9164, "DimensionOrganizationUID", "U", U),
    row(0x0028, 0x1199, "PaletteColorLookupTableUID", "U", U),
    row(0x0028, 0x1214, "LargePaletteColorLookupTableUID", "U", U),
    row(0x0028, 0x4000, "ImagePresentationComments", "X", X),
    row(0x0032, 0x0012, "StudyIDIssuer", "X", X),
    row(0x0032, 0x0032, "StudyVerifiedDate", "X", X),
    row(0x0032, 0x0033, "StudyVerifiedTime", "X", X),
    row(0x0032, 0x0034, "StudyReadDate", "X", X),
    row(0x0032, 0x0035, "StudyReadTime", "X", X),
    row(0x0032, 0x1000, "ScheduledStudyStartDate", "X", X),
    row(0x0032, 0x1001, "ScheduledStudyStartTime", "X", X),
    row(0x0032, 0x1010, "ScheduledStudyStopDate", "X", X),
    row(0x0032, 0x1011, "ScheduledStudyStopTime", "X", X),
    row(0x0032, 0x1020, "ScheduledStudyLocation", "X", X),
    row(0x0032, 0x1021, "ScheduledStudyLocationAETitle", "X", X),
    row(0x0032, 0x1030, "ReasonForStudy", "X", X),
    row(0x0032, 0x1032, "RequestingPhysician", "X", X),
    row(0x0032, 0x1033, "RequestingService", "X", X),
    row(0x0032, 0x1040, "StudyArrivalDate", "X", X),
    row(0x0032, 0x1041, "StudyArrivalTime", "X", X),
    row(0x0032, 0x1050, "StudyCompletionDate", "X", X),
    row(0x0032, 0x1051, "StudyCompletionTime", "X", X),
    row(0x0032, 0x1060, "RequestedProcedureDescription", "X/Z", X),
    row(0x0032, 0x1064, "RequestedProcedureCodeSequence", "X", X),
    row(0x0032, 0x1066, "ReasonforVisit", "X", X),
    row(0x0032, 0x1067, "ReasonforVisitCodeSequence", "X", X),
    row(0x0032, 0x1070, "RequestedContrastAgent", "X", X),
    row(0x0032, 0x4000, "StudyComments", "X", X),
    row(0x0038, 0x0004, "ReferencedPatientAliasSequence", "X", X),
    row(0x0038, 0x0010, "AdmissionID", "X", X),
    row(0x0038, 0x0011, "IssuerOfAdmissionID", "X", X),
    row(0x0038, 0x0014, "IssuerofAdmissionIDSequence", "X", X),
    row(0x0038, 0x001E, "ScheduledPatientInstitutionResidence", "X", X),
    row(0x0038, 0x0020, "AdmittingDate", "X", X),
    row(0x0038, 0x0021, "AdmittingTime", "X", X),
    row(0x0038, 0x0040, "DischargeDiagnosisDescription", "X", X),
    row(0x0038, 0x0050, "SpecialNeeds", "X", X),
    row(0x0038, 0x0060, "ServiceEpisodeID", "X", X),
    row(0x0038, 0x0061, "IssuerOfServiceEpisodeID", "X", X),
    row(0x0038, 0x0062, "ServiceEpisodeDescription", "X", X),
    row(0x0038, 0x0064, "IssuerofServiceEpisodeIDSequence", "X", X),
    row(0x0038, 0x0300, "CurrentPatientLocation", "X", X),
    row(0x0038, 0x0400, "PatientInstitutionResidence", "X", X),
    row(0x0038, 0x0500, "PatientState", "X", X),
    row(0x0038, 0x4000, "VisitComments", "X", X),
    row(0x0040, 0x0001, "ScheduledStationAETitle", "X", X),
    row(0x0040, 0x0002, "ScheduledProcedureStepStartDate", "X", X),
    row(0x0040, 0x0003, "ScheduledProcedureStepStartTime", "X", X),
    row(0x0040, 0x0004, "ScheduledProcedureStepEndDate", "X", X),
    row(0x0040, 0x0005, "ScheduledProcedureStepEndTime", "X", X),
    row(0x0040, 0x0006, "ScheduledPerformingPhysicianName", "X", X),
    row(0x0040, 0x0007, "ScheduledProcedureStepDescription", "X", X),
    row(0x0040, 0x000B, "ScheduledPerformingPhysicianIdentificationSequence", "X", X),
    row(0x0040, 0x0010, "ScheduledStationName", "X", X),
    row(0x0040, 0x0011, "ScheduledProcedureStepLocation", "X", X),
    row(0x0040, 0x0012, "PreMedication", "X", X),
    row(0x0040, 0x0241, "PerformedStationAETitle", "X", X),
    row(0x0040, 0x0242, "PerformedStationName", "X", X),
    row(0x0040, 0x0243, "PerformedLocation", "X", X),
    row(0x0040, 0x0244, "PerformedProcedureStepStartDate", "X", X),
    row(0x0040, 0x0245, "PerformedProcedureStepStartTime", "X", X),
    row(0x0040, 0x0250, "PerformedProcedureStepEndDate", "X", X),
    row(0x0040, 0x0251, "PerformedProcedureStepEndTime", "X", X),
    row(0x0040, 0x0253, "PerformedProcedureStepID", "X", X),
    row(0x0040, 0x0254, "PerformedProcedureStepDescription", "X", X),
    row(0x0040, 0x0275, "RequestAttributesSequence", "X", X),
    row(0x0040, 0x0280, "CommentsOnThePerformedProcedureStep", "X", X),
    row(0x0040, 0x050A, "SpecimenAccessionNumber", "X", X),
    row(0x0040, 0x0512, "ContainerIdentifier", "D", D),
    row(0x0040, 0x0513, "IssueroftheContainerIdentifierSequence", "Z", Z),
    row(0x0040, 0x051A, "ContainerDescription", "X", X),
    row(0x0040, 0x0551, "SpecimenIdentifier", "D", D),
    row(0x0040, 0x0554, "SpecimenUID", "U", U),
    row(0x0040, 0x0555, "AcquisitionContextSequence", "X/Z", X),
    row(0x0040, 0x0562, "IssueroftheSpecimenIdentifierSequence", "Z", Z),
    row(0x0040, 0x0600, "SpecimenShortDescription", "X", X),
    row(0x0040, 0x0602, "SpecimenDetailedDescription", "X", X),
    row(0x0040, 0x0610, "SpecimenPreparationSequence", "Z", Z),
    row(0x0040, 0x06FA, "SlideIdentifier", "X", X),
    row(0x0040, 0x1001, "RequestedProcedureID", "X", X),
    row(0x0040, 0x1002, "ReasonfortheRequestedProcedure", "X", X),
    row(0x0040, 0x1004, "PatientTransportArrangements", "X", X),
    row(0x0040, 0x1005, "RequestedProcedureLocation", "X", X),
    row(0x0040, 0x100A, "ReasonforRequestedProcedureCodeSequence", "X", X),
    row(0x0040, 0x1010, "NamesOfIntendedRecipientsOfResults", "X", X),
    row(0x0040, 0x1011, "IntendedRecipientsOfResultsIdentificationSequence", "X", X),
    row(0x0040, 0x1101, "PersonIdentificationCodeSequence", "D", D),
    row(0x0040, 0x1102, "PersonAddress", "X", X),
    row(0x0040, 0x1103, "PersonTelephoneNumbers", "X", X),
    row(0x0040, 0x1104, "PersonsTelecomInformation", "X", X),
    row(0x0040, 0x1400, "RequestedProcedureComments", "X", X),
    row(0x0040, 0x2001, "ReasonForTheImagingServiceRequest", "X", X),
    row(0x0040, 0x2004, "IssueDateOfImagingServiceRequest", "X", X),
    row(0x0040, 0x2005, "IssueTimeOfImagingServiceRequest", "X", X),
    row(0x0040, 0x2008, "OrderEnteredBy", "X", X),
    row(0x0040, 0x2009, "OrderEntererLocation", "X", X),
    row(0x0040, 0x2010, "OrderCallbackPhoneNumber", "X", X),
    row(0x0040, 0x2011, "OrderCallbackTelecomInformation", "X", X),
    row(0x0040, 0x2016, "PlacerOrderNumberImagingServiceRequest", "Z", Z),
    row(0x0040, 0x2017, "FillerOrderNumberImagingServiceRequest", "Z", Z),
    row(0x0040, 0x2400, "ImagingServiceRequestComments", "X", X),
    row(0x0040, 0x3001, "ConfidentialityConstraintOnPatientDataDescription", "X", X),
    row(0x0040, 0x4005, "ScheduledProcedureStepStartDateTime", "X", X),
    row(0x0040, 0x4008, "ScheduledProcedureStepExpirationDateTime", "X", X),
    row(0x0040, 0x4010, "ScheduledProcedureStepModificationDateTime", "X", X),
    row(0x0040, 0x4011, "ExpectedCompletionDateTime", "X", X),
    row(0x0040, 0x4023, "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID", "U", U),
    row(0x0040, 0x4025, "ScheduledStationNameCodeSequence", "X", X),
    row(0x0040, 0x4027, "ScheduledStationGeographicLocationCodeSequence", "X", X),
    row(0x0040, 0x4028, "PerformedStationNameCodeSequence", "X", X),
    row(0x0040, 0x4030, "PerformedStationGeographicLocationCodeSequence", "X", X),
    row(0x0040, 0x4034, "ScheduledHumanPerformersSequence", "X", X),
    row(0x0040, 0x4035, "ActualHumanPerformersSequence", "X", X),
    row(0x0040, 0x4036, "HumanPerformersOrganization", "X", X),
    row(0x0040, 0x4037, "HumanPerformersName", "X", X),
    row(0x0040, 0x4050, "PerformedProcedureStepStartDateTime", "X", X),
    row(0x0040, 0x4051, "PerformedProcedureStepEndDateTime", "X", X),
    row(0x0040, 0x4052, "ProcedureStepCancellationDateTime", "X", X),
    row(0x0040, 0xA027, "VerifyingOrganization", "D", D),
    row(0x0040, 0xA073, "VerifyingObserverSequence", "D", D),
    row(0x0040, 0xA075, "VerifyingObserverName", "D", D),
    row(0x0040, 0xA078, "AuthorObserverSequence", "X", X),
    row(0x0040, 0xA07A, "ParticipantSequence", "X", X),
    row(0x0040, 0xA07C, "CustodialOrganizationSequence", "X", X),
    row(0x0040, 0xA088, "VerifyingObserverIdentificationCodeSequence", "Z", Z),
    row(0x0040, 0xA123, "PersonName", "D", D),
    row(0x0040, 0xA124, "UID", "U", U),
    row(0x0040, 0xA171, "ObservationUID", "U", U),
    row(0x0040, 0xA172, "ReferencedObservationUIDTrial", "U", U),
    row(0x0040, 0xA192, "ObservationDateTrial", "X", X),
    row(0x0040, 0xA193, "ObservationTimeTrial", "X", X),
    row(0x0040, 0xA307, "CurrentObserverTrial", "X", X),
    row(0x0040, 0xA352, "VerbalSourceTrial", "X", X),
    row(0x0040, 0xA353, "AddressTrial", "X", X),
    row(0x0040, 0xA354, "TelephoneNumberTrial", "X", X),
    row(0x0040, 0xA358, "VerbalSourceIdentifierCodeSequenceTrial", "X", X),
    row(0x0040, 0xA402, "ObservationSubjectUIDTrial", "U", U),
    row(0x0040, 0xA730, "ContentSequence", "D", D),
    row(0x0040, 0xDB0C, "TemplateExtensionOrganizationUID", "U", U),
    row(0x0040, 0xDB0D, "TemplateExtensionCreatorUID", "U", U),
    row(0x0050, 0x001B, "ContainerComponentID", "X", X),
    row(0x0050, 0x0020, "DeviceDescription", "X", X),
    row(0x0050, 0x0021, "LongDeviceDescription", "X", X),
    row(0x0070, 0x0084, "ContentCreatorName", "Z/D", Z),
    row(0x0070, 0x0086, "ContentCreatorsIdentificationCodeSequence", "X", X),
    row(0x0088, 0x0140, "StorageMediaFileSetUID", "U", U),
    row(0x0088, 0x0200, "IconImageSequence", "X", X),
    row(0x0088, 0x0904, "TopicTitle", "X", X),
    row(0x0088, 0x0906, "TopicSubject", "X", X),
    row(0x0088, 0x0910, "TopicAuthor", "X", X),
    row(0x0088, 0x0912, "TopicKeywords", "X", X),
    row(0x0400, 0x0100, "DigitalSignatureUID", "U", U),
    row(0x0400, 0x0402, "ReferencedDigitalSignatureSequence", "X", X),
    row(0x0400, 0x0403, "ReferencedSOPInstanceMACSequence", "X", X),
    row(0x0400, 0x0404, "MAC", "X", X),
    row(0x0400, 0x0550, "ModifiedAttributesSequence", "X", X),
    row(0x0400, 0x0561, "OriginalAttributesSequence", "X", X),
    row(0x0400, 0x0600, "InstanceOriginStatus", "X", X),
    row(0x3006, 0x0024, "ReferencedFrameOfReferenceUID", "U", U),
    row(0x3006, 0x00C2, "RelatedFrameOfReferenceUID", "U", U),
    row(0x4008, 0x0042, "ResultsIDIssuer", "X", X),
    row(0x4008, 0x0102, "InterpretationRecorder", "X", X),
    row(0x4008, 0x010A, "InterpretationTranscriber", "X", X),
    row(0x4008, 0x010B, "InterpretationText", "X", X),
    row(0x4008, 0x010C, "InterpretationAuthor", "X", X),
    row(0x4008, 0x0111, "InterpretationApproverSequence", "X", X),
    row(0x4008, 0x0114, "PhysicianApprovingInterpretation", "X", X),
    row(0x4008, 0x0115, "InterpretationDiagnosisDescription", "X", X),
    row(0x4008, 0x0118, "ResultsDistributionListSequence", "X", X),
    row(0x4008, 0x0119, "DistributionName", "X", X),
    row(0x4008, 0x011A, "DistributionAddress", "X", X),
    row(0x4008, 0x0202, "InterpretationIDIssuer", "X", X),
    row(0x4008, 0x0300, "Impressions", "X", X),
    row(0x4008, 0x4000, "ResultsComments", "X", X),
    row(0xFFFA, 0xFFFA, "DigitalSignaturesSequence", "X", X),
    row(0xFFFC, 0xFFFC, "DataSetTrailingPadding", "X", X),
];

/// The profile's action for a standard attribute, if it has one (binary search:
/// the table is sorted by tag, which a test checks).
pub fn action_for(tag: Tag) -> Option<Action> {
    BASIC_PROFILE
        .binary_search_by(|entry| entry.tag.cmp(&tag))
        .ok()
        .map(|i| BASIC_PROFILE[i].action)
}

/// A private attribute kept because conversion needs it: the creator string of its
/// block and its element number within the block (the low byte).
#[derive(Debug, Clone, Copy)]
pub struct KeptPrivate {
    pub group: u16,
    pub creator: &'static str,
    pub element: u8,
    pub why: &'static str,
}

const fn private(group: u16, creator: &'static str, element: u8, why: &'static str) -> KeptPrivate {
    KeptPrivate {
        group,
        creator,
        element,
        why,
    }
}

/// Private attributes that survive de-identification. Everything else private goes
/// (the profile's "remove private attributes" option, with these exceptions).
#[rustfmt::skip]
pub static KEPT_PRIVATE: &[KeptPrivate] = &[
    private(0x0029, "SIEMENS CSA HEADER", 0x10, "CSA image header: mosaic slice count, slice normal, MosaicRefAcqTimes"),
    private(0x0029, "SIEMENS CSA HEADER", 0x20, "CSA series header: phase-encoding polarity, slice order (ASCCONV)"),
    private(0x0019, "SIEMENS MR HEADER", 0x0A, "NumberOfImagesInMosaic"),
    private(0x0019, "SIEMENS MR HEADER", 0x0B, "SliceMeasurementDuration"),
    private(0x0019, "SIEMENS MR HEADER", 0x28, "BandwidthPerPixelPhaseEncode"),
    private(0x0019, "SIEMENS MR HEADER", 0x29, "MosaicRefAcqTimes (slice timing)"),
    private(0x0021, "SIEMENS MR SDS 01", 0x04, "XA TimeAfterStart (slice timing)"),
    private(0x0021, "SIEMENS MR SDI 02", 0xFE, "XA enhanced per-frame private sequence holding TimeAfterStart"),
    private(0x0021, "SIEMENS MR SDI 02", 0x04, "XA enhanced per-frame TimeAfterStart (slice timing)"),
    private(0x0019, "GEMS_ACQU_01", 0x9C, "pulse sequence name (epiRT detection)"),
    private(0x0019, "GEMS_ACQU_01", 0x9E, "internal pulse sequence name"),
    private(0x0043, "GEMS_PARM_01", 0x7C, "group delay added to TR (epiRT)"),
    private(0x0043, "GEMS_PARM_01", 0x2C, "effective echo spacing"),
    private(0x0043, "GEMS_PARM_01", 0x39, "slice order / acceleration parameters"),
    private(0x0025, "GEMS_SERS_01", 0x1B, "protocol data block (slice order, multiphase)"),
    private(0x2005, "Philips MR Imaging DD 001", 0x0E, "Philips scale slope (intensity scaling)"),
    private(0x0021, "SIEMENS MR SDI 02", 0x1C, "XA PhaseEncodingDirectionPositive (phase-encoding polarity)"),
    private(0x0021, "SIEMENS MR SDS 01", 0x09, "XA PATModeText (multiband factor)"),
    private(0x0021, "SIEMENS MR SDS 01", 0xFE, "XA enhanced shared private sequence holding PATModeText"),
    private(0x0019, "GEMS_ACQU_01", 0xB3, "UserData12: epi_pepolar polarity mode (rows stored flipped)"),
    private(0x0043, "GEMS_PARM_01", 0xB6, "HyperBand (multiband) factor"),
    private(0x2005, "Philips MR Imaging DD 001", 0xA0, "MRImageDynamicScanBeginTime (3D ASL TR)"),
    private(0x2005, "Philips MR Imaging DD 005", 0x0F, "enhanced per-frame private sequence holding the above"),
    private(0x2001, "Philips Imaging DD 001", 0x03, "diffusion b-value (derived trace/ADC detection)"),
    private(0x2005, "Philips MR Imaging DD 001", 0xB0, "diffusion gradient direction (derived trace/ADC detection)"),
    private(0x2005, "Philips MR Imaging DD 001", 0xB1, "diffusion gradient direction (derived trace/ADC detection)"),
    private(0x2005, "Philips MR Imaging DD 001", 0xB2, "diffusion gradient direction (derived trace/ADC detection)"),
];

/// Attributes the profile lets us remove or empty but which are Type 1 in the Enhanced
/// MR IOD: in enhanced files they get a dummy value (`D`) instead.
pub static ENHANCED_TYPE1: &[Tag] = &[
    Tag(0x0008, 0x0023), // ContentDate, Z/D
    Tag(0x0008, 0x0033), // ContentTime, Z/D
    Tag(0x0008, 0x002A), // AcquisitionDateTime, X/Z/D
];

/// A standard attribute the profile's table does not list, kept because conversion,
/// the sidecar or a valid object needs it and its values name no one.
#[derive(Debug, Clone, Copy)]
pub struct KeptStandard {
    pub tag: Tag,
    pub name: &'static str,
    pub why: &'static str,
}

const fn keep(group: u16, element: u16, name: &'static str, why: &'static str) -> KeptStandard {
    KeptStandard {
        tag: Tag(group, element),
        name,
        why,
    }
}

/// The keep-list for standard attributes the table does not list (PS3.15 E.1: what the
/// profile does not name is removed unless known to be safe). Besides these, the
/// acquisition, geometry and pixel groups are kept where their values cannot hold free
/// text ([`SAFE_GROUPS`], [`SAFE_VRS`]). Sorted by tag (a test checks).
#[rustfmt::skip]
pub static KEPT_STANDARD: &[KeptStandard] = &[
    keep(0x0008, 0x0005, "SpecificCharacterSet", "decodes the text that is kept"),
    keep(0x0008, 0x0008, "ImageType", "mosaic, derived and phase detection; sidecar ImageType"),
    keep(0x0008, 0x0016, "SOPClassUID", "classic or enhanced MR (a DICOM-root UID)"),
    keep(0x0008, 0x0060, "Modality", "sidecar Modality"),
    keep(0x0008, 0x0070, "Manufacturer", "vendor rules (Siemens, GE, Philips)"),
    keep(0x0008, 0x1090, "ManufacturerModelName", "sidecar ManufacturersModelName"),
    keep(0x0008, 0x9007, "FrameType", "enhanced MR image type"),
    keep(0x0008, 0x9205, "PixelPresentation", "enhanced MR image module"),
    keep(0x0008, 0x9206, "VolumetricProperties", "enhanced MR image module"),
    keep(0x0008, 0x9207, "VolumeBasedCalculationTechnique", "enhanced MR image module"),
    keep(0x0008, 0x9208, "ComplexImageComponent", "magnitude or phase volumes"),
    keep(0x0008, 0x9209, "AcquisitionContrast", "enhanced MR image module"),
    keep(0x0018, 0x0024, "SequenceName", "sequence detection (epiRT, EPI); sidecar SequenceName"),
    keep(0x0018, 0x1020, "SoftwareVersions", "vendor version rules; sidecar SoftwareVersions"),
    keep(0x0018, 0x1250, "ReceiveCoilName", "sidecar ReceiveCoilName"),
    keep(0x0018, 0x1251, "TransmitCoilName", "sidecar"),
    keep(0x0018, 0x9005, "PulseSequenceName", "enhanced MR sequence name"),
    keep(0x0040, 0x9096, "RealWorldValueMappingSequence", "Philips real-world scaling"),
    keep(0x0040, 0x9211, "RealWorldValueLastValueMapped", "Philips real-world scaling"),
    keep(0x0040, 0x9216, "RealWorldValueFirstValueMapped", "Philips real-world scaling"),
    keep(0x0040, 0x9224, "RealWorldValueIntercept", "Philips real-world scaling"),
    keep(0x0040, 0x9225, "RealWorldValueSlope", "Philips real-world scaling"),
    keep(0x5200, 0x9229, "SharedFunctionalGroupsSequence", "enhanced MR geometry and timing (items cleaned)"),
    keep(0x5200, 0x9230, "PerFrameFunctionalGroupsSequence", "enhanced MR per-frame geometry and timing (items cleaned)"),
    keep(0x7FE0, 0x0001, "ExtendedOffsetTable", "encapsulated pixel data"),
    keep(0x7FE0, 0x0002, "ExtendedOffsetTableLengths", "encapsulated pixel data"),
    keep(0x7FE0, 0x0008, "FloatPixelData", "the image"),
    keep(0x7FE0, 0x0009, "DoubleFloatPixelData", "the image"),
    keep(0x7FE0, 0x0010, "PixelData", "the image"),
];

/// Groups kept by value representation: 0018 (acquisition: timing, sequence, coil,
/// diffusion), 0020 (geometry, positions, instance and series numbers, dimensions) and
/// 0028 (pixel description, rescale). The identifying attributes of these groups are
/// in the table, which acts first.
pub static SAFE_GROUPS: &[u16] = &[0x0018, 0x0020, 0x0028];

/// Value representations that cannot hold a name or free text: numbers (numeric strings
/// must parse as numbers), code strings, tags, times of day, UIDs (replaced), dates
/// (moved to 1900-01-01) and sequences (whose items go through the same rules).
pub static SAFE_VRS: &[VR] = &[
    VR::US,
    VR::SS,
    VR::UL,
    VR::SL,
    VR::UV,
    VR::SV,
    VR::FL,
    VR::FD,
    VR::DS,
    VR::IS,
    VR::AT,
    VR::CS,
    VR::TM,
    VR::UI,
    VR::DA,
    VR::DT,
    VR::SQ,
];

/// Whether a standard attribute the table does not list is kept: on [`KEPT_STANDARD`],
/// or in a [`SAFE_GROUPS`] group with a [`SAFE_VRS`] value representation both in the
/// dictionary and in the file (so a text value cannot pass as a number).
pub fn kept_unlisted(tag: Tag, file_vr: VR) -> bool {
    if KEPT_STANDARD.binary_search_by(|k| k.tag.cmp(&tag)).is_ok() {
        return true;
    }
    if !SAFE_GROUPS.contains(&tag.group()) || !SAFE_VRS.contains(&file_vr) {
        return false;
    }
    let Some(entry) = StandardDataDictionary.by_tag(tag) else {
        return false;
    };
    match entry.vr() {
        VirtualVr::Exact(vr) => vr == file_vr,
        // "US or SS" style entries: both are numbers.
        VirtualVr::Xs => matches!(file_vr, VR::US | VR::SS),
        _ => false,
    }
}
