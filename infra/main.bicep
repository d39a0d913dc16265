targetScope = 'subscription'

// The CSP customer onboarding function: a Flex Consumption app with a user-assigned identity, its storage
// (requests queue, poison and parking queues, ledger table, deployment container), an Event Grid topic for the
// outcome events, a Key Vault for admin passwords and another for the App+User refresh token, Application Insights —
// all secretless, least privilege.

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; a prefix of every resource name.')
param environmentName string

// Flex Consumption regions, as in Azure-Samples/functions-quickstart-python-http-azd (infra/main.bicep, 2025-11),
// without the eastus2euap canary; `az functionapp list-flexconsumption-locations` gives today's list.
@minLength(1)
@description('Primary location for all resources: a region where Flex Consumption is available.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('The deploying user (azd sets AZURE_PRINCIPAL_ID): roles to run the operator commands; empty for none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('What principalId is: a user, or the service principal a pipeline deploys with.')
param principalType string = 'User'

@description('The partner tenant (Partner Center account) id.')
param partnerCenterTenantId string

@description('Client id of the Entra app registration allowed to call Partner Center.')
param partnerCenterClientId string

@allowed(['public', 'usgov', 'china'])
@description('Partner Center cloud: picks API URL, sign-in host, federated audience and domain suffix.')
param partnerCenterCloud string = 'public'

@minValue(1)
@maxValue(1000)
@description('Maximum instances per function group (Flex Consumption scales the queue function, the HTTP functions and each other function on its own). 40 is the lowest value Flex accepts in every region; lower values are a preview in a few. The Partner Center budget is shared by all instances, never divided among them (docs/behaviour.md, "Scale").')
param maximumInstanceCount int = 40

@minValue(1)
@description('The whole app\'s budget of Partner Center calls per minute, shared by every instance and function through the storage account: Partner Center\'s per-tenant 500, lowered only to leave room for other tools on the tenant.')
param partnerCenterMaxRequestsPerMinute int = 500

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Action group that alerts notify; empty for alerts without notification.')
param alertActionGroupId string = ''

@description('Failed outcomes per hour above which an alert fires.')
param failedOutcomesPerHourThreshold int = 10

@description('Default for requests that do not say whether to grant default GDAP roles.')
param enableGdapByDefault bool = true
@description('Dataverse OrganizationIds whose records the Dataverse route accepts (comma-separated); empty: none.')
param dataverseOrganizationIds string = ''
@description('Salesforce OrganizationIds whose outbound messages the Salesforce route accepts (comma-separated); empty: none.')
param salesforceOrganizationIds string = ''

@description('''App+User (indirect resellers, MCA attestation): on sets PARTNER_CENTER_USER_TOKEN_SECRET_URL, and an
Admin agent then signs in once with `python -m ops.consent`; until then the function warns once that it is not signed
in yet. Off (the default): the setting is empty and App+User raises nothing (docs/operating.md, App+User).''')
param appUserEnabled bool = false

@secure()
@description('''App settings of your own, as a JSON object (azd EXTRA_APP_SETTINGS): every tunable that has no parameter
here (retention days, CRM_FIELD_MAP, AzureFunctionsJobHost__… overrides). Merged with the app's current settings on
each provision, so a change made in the portal or CLI lasts too; a setting this template sets is changed through its
parameter only (docs/operating.md, "Changing a setting so that it lasts").''')
param extraAppSettings object = {}

@description('''Purge protection on both vaults. Irreversible: the vaults and their names then outlive `azd down` for
90 days (recover them with `az keyvault recover` before `azd up`, or set keyVaultName and appUserTokenVaultName).''')
param keyVaultPurgeProtection bool = false

@description('''Refuse public network access to storage, both vaults and the Event Grid topic: the function app joins a
VNet and reaches them through private endpoints. The app itself stays public (the CRMs call it). Costs about six
private endpoints and five private DNS zones, and operator commands then work only from inside the VNet
(infra/README.md, "Restricting public network access"). Off keeps public access.''')
param restrictPublicNetworkAccess bool = false

// Optional names; empty means prefix + token.
param resourceGroupName string = ''
param identityName string = ''
param storageAccountName string = ''
param functionAppName string = ''
param planName string = ''
param topicName string = ''
@description('The admin-password vault: the function may only set secrets there (rbac.bicep).')
param keyVaultName string = ''
@description('The App+User refresh token\'s vault: the function reads and rotates the one secret there (rbac.bicep).')
param appUserTokenVaultName string = ''
param logAnalyticsName string = ''
param virtualNetworkName string = ''
param applicationInsightsName string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var queueName = 'customer-requests'
var ledgerTableName = 'onboardingledger'
// What the HTTP intake and ops.backfill have enqueued: made here, so that the operator's role can be scoped to it.
var intakeTableName = 'onboardingintake'
// The whole app's Partner Center budget: one row that every instance and function takes blocks of calls from.
var budgetTableName = 'onboardingbudget'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
// The Functions host's own containers (leases and timer locks; function keys): created here, because the function's
// blob roles are scoped to each container (rbac.bicep) and a container-scoped role cannot create its container.
var hostContainerNames = ['azure-webjobs-hosts', 'azure-webjobs-secrets']
// The App+User refresh token: one secret in a vault of its own, which ops.consent writes and the function rotates.
var appUserTokenSecretName = 'partner-center-app-user'
var appName = !empty(functionAppName) ? functionAppName : '${abbrs.webSitesFunctions}${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    queueNames: [queueName, '${queueName}-poison', '${queueName}-exhausted']
    tableNames: [ledgerTableName, intakeTableName, budgetTableName]
    containerNames: concat([deploymentContainerName], hostContainerNames)
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
  }
}

module eventGrid 'app/event-grid.bicep' = {
  name: 'event-grid'
  scope: rg
  params: {
    name: !empty(topicName) ? topicName : '${abbrs.eventGridTopics}${resourceToken}'
    location: location
    tags: tags
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
  }
}

// Two vaults, so that the function's role on each is only what it does there: it writes admin passwords it can never
// read back, and reads and rotates the refresh token. Microsoft advises a vault per application and against roles on
// single secrets (rbac-guide.md, MicrosoftDocs/azure-docs), and the token's secret does not exist at provision time.
module passwordVault 'app/key-vault.bicep' = {
  name: 'password-vault'
  scope: rg
  params: {
    name: !empty(keyVaultName) ? keyVaultName : '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
  }
}

module tokenVault 'app/key-vault.bicep' = {
  name: 'token-vault'
  scope: rg
  params: {
    name: !empty(appUserTokenVaultName) ? appUserTokenVaultName : '${abbrs.keyVaultVaults}tok-${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
  }
}

// Only with restrictPublicNetworkAccess: the VNet the app joins, and a private endpoint for each service it reaches.
module network 'app/network.bicep' = if (restrictPublicNetworkAccess) {
  name: 'network'
  scope: rg
  params: {
    name: !empty(virtualNetworkName) ? virtualNetworkName : '${abbrs.networkVirtualNetworks}${resourceToken}'
    endpointNamePrefix: '${abbrs.networkPrivateEndpoints}${resourceToken}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    passwordVaultId: passwordVault.outputs.id
    tokenVaultId: tokenVault.outputs.id
    topicId: eventGrid.outputs.id
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    queryPackName: '${abbrs.operationalInsightsQueryPacks}${resourceToken}'
    alertPrefix: '${abbrs.insightsScheduledQueryRules}${resourceToken}'
    location: location
    tags: tags
    actionGroupId: alertActionGroupId
    failedOutcomesPerHourThreshold: failedOutcomesPerHourThreshold
    functionAppName: appName
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    name: 'csp-onboarding-${resourceToken}'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: appName
    planName: !empty(planName) ? planName : '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    partnerCenterMaxRequestsPerMinute: partnerCenterMaxRequestsPerMinute
    instanceMemoryMB: instanceMemoryMB
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    queueName: queueName
    ledgerTableName: ledgerTableName
    intakeTableName: intakeTableName
    budgetTableName: budgetTableName
    eventsTopicEndpoint: eventGrid.outputs.endpoint
    adminCredentialsVaultUri: passwordVault.outputs.uri
    appUserTokenVaultUri: tokenVault.outputs.uri
    appUserTokenSecretName: appUserTokenSecretName
    appUserEnabled: appUserEnabled
    partnerCenterCloud: partnerCenterCloud
    partnerCenterTenantId: partnerCenterTenantId
    partnerCenterClientId: partnerCenterClientId
    enableGdapByDefault: enableGdapByDefault
    dataverseOrganizationIds: dataverseOrganizationIds
    salesforceOrganizationIds: salesforceOrganizationIds
    extraAppSettings: extraAppSettings
    virtualNetworkSubnetId: restrictPublicNetworkAccess ? network.outputs.appSubnetId : ''
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    storageAccountName: storage.outputs.name
    queueName: queueName
    ledgerTableName: ledgerTableName
    intakeTableName: intakeTableName
    deploymentContainerName: deploymentContainerName
    topicName: eventGrid.outputs.name
    passwordVaultName: passwordVault.outputs.name
    tokenVaultName: tokenVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
// Each HTTP route family and its URL; each is opened by a function key of its own (infra/hooks/function-keys.sh).
output HTTP_ROUTES object = {
  intake: { function: 'accept_customer_request', key: 'intake', url: 'https://${functionApp.outputs.defaultHostName}/api/customer-requests' }
  status: { function: 'get_customer_request', key: 'status', url: 'https://${functionApp.outputs.defaultHostName}/api/customer-requests/{requestId}' }
  validate: { function: 'validate_customer_request', key: 'validate', url: 'https://${functionApp.outputs.defaultHostName}/api/customer-requests/validate' }
  dataverse: { function: 'accept_dataverse_webhook', key: 'dataverse', url: 'https://${functionApp.outputs.defaultHostName}/api/crm/dataverse' }
  salesforce: { function: 'accept_salesforce_message', key: 'salesforce', url: 'https://${functionApp.outputs.defaultHostName}/api/crm/salesforce' }
}
output AZURE_CLIENT_ID string = identity.outputs.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output CUSTOMER_REQUESTS_QUEUE_URL string = '${storage.outputs.queueEndpoint}${queueName}'
output EVENTS_TOPIC_ENDPOINT string = eventGrid.outputs.endpoint
output ADMIN_CREDENTIALS_VAULT_URL string = passwordVault.outputs.uri
output ADMIN_CREDENTIALS_VAULT_NAME string = passwordVault.outputs.name
output PARTNER_CENTER_USER_TOKEN_VAULT_URL string = tokenVault.outputs.uri
output PARTNER_CENTER_USER_TOKEN_VAULT_NAME string = tokenVault.outputs.name
output PARTNER_CENTER_USER_TOKEN_SECRET_URL string = appUserEnabled ? '${tokenVault.outputs.uri}secrets/${appUserTokenSecretName}' : ''
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output OPERATIONS_WORKBOOK_ID string = workbook.outputs.id
